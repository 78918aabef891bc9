"""Build the lab's binaries from the Go module proxy, once per set of pins."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .config import GO_MODULE_DIR, LabConfigError, bin_dir, load_pins

# The real nodes' components (lab/platykus_lab/node.py).
NODE_COMMANDS = ("kubelet", "kube-proxy")
KUBERNETES_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", *NODE_COMMANDS)
BINARIES = ("etcd", *KUBERNETES_COMMANDS, "kwok", "helm")
GO_INSTALLS = {"kwok": "sigs.k8s.io/kwok/cmd/kwok", "helm": "helm.sh/helm/v3/cmd/helm"}


def check_pins_match_module(pins: dict, go_dir: Path = GO_MODULE_DIR) -> None:
    """go.mod must build the releases pins.yml names, staging modules included."""
    gomod = (go_dir / "go.mod").read_text()
    expected = {
        "k8s.io/kubernetes": pins["kubernetes"],
        "go.etcd.io/etcd/server/v3": pins["etcd"],
    }
    for module, version in expected.items():
        if not re.search(rf"^\s*{re.escape(module)} {re.escape(version)}\s*$", gomod, re.M):
            raise LabConfigError(
                f"lab/go/go.mod does not require {module} {version} as lab/pins.yml says; update both together"
            )
    for line in re.findall(r"^\s*(k8s\.io/\S+) => \S+ (\S+)\s*$", gomod, re.M):
        if line[1] != pins["staging"]:
            raise LabConfigError(
                f"lab/go/go.mod replaces {line[0]} with {line[1]}, not {pins['staging']} (pins.yml staging)"
            )


def version_ldflags(pins: dict) -> str:
    """Stamp the release into the binaries, as upstream's build does: clients and Helm read it."""
    version = pins["kubernetes"]
    major, minor = version.lstrip("v").split(".")[:2]
    flags = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
            f"-X {package}.buildDate=1970-01-01T00:00:00Z",
        ]
    return " ".join(["-s", "-w", *flags])


def missing_binaries(target: Path) -> list[str]:
    return [name for name in BINARIES if not (target / name).exists()]


def _run(cmd: list[str], cwd: Path, env: dict) -> None:
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    count = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        count += 1
        # `go build -v` prints each package as it compiles: show a heartbeat, not thousands of lines.
        if count % 200 == 0 or line.startswith(("go: ", "#")) or "error" in line:
            print(f"  [{count} packages] {line.rstrip()}", flush=True)
    if proc.wait() != 0:
        raise SystemExit(f"build failed: {' '.join(cmd)} (exit {proc.returncode})")


def build(force: bool = False) -> Path:
    """Build (or reuse) every lab binary; return the directory holding them."""
    pins = load_pins()
    check_pins_match_module(pins)
    target = bin_dir(pins)
    missing = BINARIES if force else missing_binaries(target)
    if not missing:
        print(f"lab binaries up to date in {target}", flush=True)
        return target
    if shutil.which("go") is None:
        raise SystemExit("go is not on PATH: install Go 1.24 or newer to build the lab")
    started = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    # One build at a time per pin set: a second `up` or CI step waits for the first.
    lock = open(target.parent / ".build.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    missing = BINARIES if force else missing_binaries(target)
    if not missing:
        print(f"lab binaries built meanwhile by another process in {target}", flush=True)
        return target
    partial = target.with_name(target.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-buildvcs=false")
    print(
        f"building lab binaries for Kubernetes {pins['kubernetes']} into {target} (cold builds take ~10-15 min on 2 cores)",
        flush=True,
    )
    wanted_k8s = [name for name in ("etcd", *KUBERNETES_COMMANDS) if name in missing]
    if wanted_k8s:
        packages = ["./cmd/etcd" if name == "etcd" else f"k8s.io/kubernetes/cmd/{name}" for name in wanted_k8s]
        _run(
            [
                "go",
                "build",
                "-v",
                "-trimpath",
                f"-ldflags={version_ldflags(pins)}",
                "-o",
                str(partial) + "/",
                *packages,
            ],
            GO_MODULE_DIR,
            env,
        )
    for name, package in GO_INSTALLS.items():
        if name in missing:
            _run(
                ["go", "install", "-v", "-trimpath", f"{package}@{pins[name]}"],
                GO_MODULE_DIR,
                dict(env, GOBIN=str(partial), GOWORK="off"),
            )
    target.mkdir(parents=True, exist_ok=True)
    for name in missing:
        os.replace(partial / name, target / name)
    shutil.rmtree(partial, ignore_errors=True)
    print(f"lab binaries built in {time.monotonic() - started:.0f}s: {target}", flush=True)
    return target


def main(argv: list[str] | None = None) -> int:
    force = "--force" in (argv or sys.argv[1:])
    build(force=force)
    return 0
