#!/usr/bin/env python3
"""The workspace's `rust-version` must be at least every locked dependency's.

A newcomer on an older toolchain should get cargo's "requires rustc X" message for our crates,
not a dependency's build error halfway through. Run from the workspace root:
`python3 deploy/ci/check_msrv.py` (reads `cargo metadata --locked`).
"""
import json
import subprocess
import sys


def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--locked", "--format-version", "1"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    members = set(meta["workspace_members"])
    ours = {p["rust_version"] for p in meta["packages"] if p["id"] in members}
    if len(ours) != 1 or None in ours:
        print(f"every workspace crate must inherit one rust-version, found {sorted(map(str, ours))}")
        return 1
    declared = ours.pop()
    needed = [
        (version(p["rust_version"]), p["name"], p["version"], p["rust_version"])
        for p in meta["packages"]
        if p["id"] not in members and p.get("rust_version")
    ]
    too_new = [n for n in needed if n[0] > version(declared)]
    if too_new:
        for _, name, ver, rv in sorted(too_new, reverse=True):
            print(f"{name} {ver} needs Rust {rv}, the workspace declares {declared}")
        print("raise `rust-version` in Cargo.toml and the README's \"Rust ≥\" to the highest of these")
        return 1
    top = max(needed)
    print(f"rust-version {declared} covers every dependency (highest: {top[1]} {top[2]}, {top[3]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
