"""Static checks on the image Dockerfiles that hadolint does not make:

- every base image is pinned by digest (`FROM image:tag@sha256:<64 hex>`; `scratch`, earlier
  stages and a build ARG that defaults to a pinned image excepted);
- the build stage maps BuildKit's TARGETARCH to the Rust musl target exactly: amd64 ->
  x86_64-unknown-linux-musl, arm64 -> aarch64-unknown-linux-musl, anything else fails;
- the build stage does not run on $BUILDPLATFORM (musl-gcc cannot cross-compile the C code of
  ring and mimalloc, so each platform builds on itself, natively or under emulation).

  check_dockerfile.py DOCKERFILE...
"""
import re
import sys

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
MAPPING = {"amd64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}


def logical_lines(text):
    """Dockerfile instructions with continuations joined (comments dropped)."""
    out, cur = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not cur:
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        if cur.strip():
            out.append(cur.strip())
        cur = ""
    return out


def check(path):
    with open(path, encoding="utf-8") as f:
        lines = logical_lines(f.read())
    errors, stages, args = [], set(), {}
    build_stage = None
    for line in lines:
        m = re.match(r"ARG\s+(\w+)(?:=(\S+))?", line)
        if m:
            args[m.group(1)] = m.group(2)
            continue
        m = re.match(r"FROM\s+(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if not m:
            continue
        platform, image, stage = m.groups()
        ref = re.fullmatch(r"\$\{?(\w+)\}?", image)
        resolved = args.get(ref.group(1)) if ref else image
        if image != "scratch" and image not in stages and not (resolved and DIGEST.search(resolved)):
            errors.append(f"FROM {image}: not pinned by digest (image:tag@sha256:<64 hex>)")
        if stage:
            stages.add(stage)
        if stage == "build":
            build_stage = line
            if platform and "BUILDPLATFORM" in platform:
                errors.append("the build stage runs on $BUILDPLATFORM: musl-gcc cannot cross-compile ring/mimalloc")
    text = " ".join(lines)
    if build_stage is not None:
        case = re.search(r'case\s+"\$\{TARGETARCH[^}]*\}"\s+in(.*?)\besac\b', text)
        if not case:
            errors.append("the build stage must map TARGETARCH with a `case \"${TARGETARCH}\" in ... esac`")
        else:
            arms = dict(re.findall(r"(\w+|\*)\)\s*(.*?);;", case.group(1)))
            for arch, target in MAPPING.items():
                if target not in arms.get(arch, ""):
                    errors.append(f"TARGETARCH {arch} must map to {target}, found {arms.get(arch, 'nothing')!r}")
            extra = set(arms) - set(MAPPING) - {"*"}
            if extra:
                errors.append(f"TARGETARCH mapped for unsupported architectures: {sorted(extra)}")
            if "exit 1" not in arms.get("*", ""):
                errors.append("an unsupported TARGETARCH must fail the build (`*) ... exit 1 ;;`)")
    for e in errors:
        print(f"{path}: {e}", file=sys.stderr)
    return not errors


def main(paths):
    ok = [check(p) for p in paths]
    if all(ok):
        print(f"{', '.join(paths)}: base images pinned by digest; TARGETARCH -> {MAPPING}")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
