"""The example apps' images: the programs of examples/apps built and packed as the app specs name them.

`examples/apps/images.yml` lists each image (inventories/lab/apps/ references them by name): its
programs, built from examples/apps (Go, standard library only, so nothing is fetched) with the lab's
Go toolchain, `CGO_ENABLED=0`, into `/app/bin/` of one layer, and its entrypoint. The archives are
written once per digest of that folder, the Go version and the recipe, under
`~/.cache/platykus/lab/images/example-apps-<digest>/`, and imported into every real node of a lab
(`python -m platykus_lab.example_apps --load --name LAB`; `platykus-lab up` loads them too).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from . import images
from .config import LAB_DIR, cache_root

EXAMPLES_DIR = LAB_DIR.parent / "examples" / "apps"
IMAGES_FILE = EXAMPLES_DIR / "images.yml"
# Bump when the way the images are built or laid out changes.
RECIPE = "example-apps/1"
APP_DIR = "/app"
# The app specs' pods run as this uid (the platform's RUN_AS_USER); the images say so too.
USER = "10001:10001"


def image_specs(path: Path = IMAGES_FILE) -> list[dict]:
    return list(yaml.safe_load(path.read_text())["images"])


def _go_version() -> str:
    proc = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise images.ImageError(
            "go is not on PATH: the example apps build with the lab's Go toolchain (scripts/setup.sh)"
        )
    return proc.stdout.strip()


def source_digest(source: Path = EXAMPLES_DIR) -> str:
    """What the archives depend on: every file of the examples folder, the Go version, the recipe."""
    digest = hashlib.sha256(f"{RECIPE}\n{_go_version()}\n".encode())
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def archive_name(image: str) -> str:
    return image.rsplit("/", 1)[-1].replace(":", "-") + ".tar"


def _build_programs(out: Path, source: Path) -> None:
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-buildvcs=false", GOTOOLCHAIN="local", GOWORK="off")
    proc = subprocess.run(
        ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(out) + "/", "./..."],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise images.ImageError(f"building the example apps in {source} failed: {proc.stderr.strip()[-800:]}")


def build(source: Path = EXAMPLES_DIR, log=print) -> list[Path]:
    """The example apps' archives, built unless this digest's are cached; returns their paths."""
    specs = image_specs(source / "images.yml")
    target = cache_root() / "lab" / "images" / f"example-apps-{source_digest(source)}"
    archives = [target / archive_name(spec["name"]) for spec in specs]
    if all(a.exists() for a in archives):
        return archives
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".example-apps.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all(a.exists() for a in archives):
            return archives
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        (partial / "bin").mkdir(parents=True)
        _build_programs(partial / "bin", source)
        for spec in specs:
            binaries = {}
            for program, package in spec["programs"].items():
                built = partial / "bin" / Path(package).name
                if not built.is_file():
                    raise images.ImageError(
                        f"{source / 'images.yml'}: {spec['name']}: no program {package} in {source}"
                    )
                binaries[f"{APP_DIR}/bin/{program}"] = (built.read_bytes(), 0o755)
            images.write_oci_archive(
                partial / archive_name(spec["name"]),
                spec["name"],
                [binaries],
                entrypoint=list(spec["entrypoint"]),
                workdir=APP_DIR,
                user=USER,
                labels={"io.platykus.example": spec["name"].rsplit("/", 1)[-1]},
            )
        shutil.rmtree(partial / "bin")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
    log(f"example app images built in {target}")
    return archives


def load(lab, log=print) -> list[str]:
    """Build (or reuse) the example apps' archives and import them into every real node of ``lab``."""
    names: list[str] = []
    for archive in build(log=log):
        names += images.load(lab, archive)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platykus_lab.example_apps", description=__doc__.split("\n")[0])
    parser.add_argument("--load", action="store_true", help="import them into the lab's real nodes")
    parser.add_argument("--name", default=os.environ.get("PLATYKUS_LAB", "default"), help="the lab (--load)")
    args = parser.parse_args(argv)
    try:
        if not args.load:
            for archive in build():
                print(archive)
            return 0
        from .cluster import Lab
        from .config import bin_dir

        for name in load(Lab.named(args.name, binaries=bin_dir())):
            print(name)
    except images.ImageError as err:
        print(f"example apps: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
