"""Building the platform controllers the lab runs: lab/controllers.yml ->
~/.cache/platykus/lab/controllers/<name>-<version>-<digest>/ (bin/ the binary, share/ files copied
from the module, lib/ Maven jars), one lock per entry. How they are run: controller_run.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from .build import _run
from .config import LAB_DIR, LabConfigError, cache_root

CONTROLLERS_FILE = LAB_DIR / "controllers.yml"
# Bump when the build steps below change, so cached builds are redone.
RECIPE = "controllers/1"
_WAYS = ("go_install", "go_build", "debian", "maven", "python")
_FIELDS = {"version", "module", "files", "tags", "binary", "runner", *_WAYS}


# ----------------------------------------------------------------------------------- build specs
@dataclass(frozen=True)
class BuildSpec:
    """One entry of lab/controllers.yml: how a component is obtained, and its pin."""

    name: str
    version: str
    way: str
    source: str | tuple[str, ...]
    module: str | None = None
    files: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    binary: str | None = None
    # The Python module that registers this entry's Runner (how the lab runs it); not part of the build.
    runner: str | None = None

    @property
    def binary_name(self) -> str:
        return Path(self.binary).name if self.binary else self.name


def _parse_spec(name: str, raw: object) -> BuildSpec:
    where = f"{CONTROLLERS_FILE.name}: controllers.{name}"
    if not isinstance(raw, dict):
        raise LabConfigError(f"{where}: must be a mapping with version and one of {', '.join(_WAYS)}")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise LabConfigError(f"{where}: unknown keys {sorted(unknown)}; allowed: {', '.join(sorted(_FIELDS))}")
    ways = [way for way in _WAYS if way in raw]
    if len(ways) != 1:
        raise LabConfigError(f"{where}: give exactly one of {', '.join(_WAYS)} (found {ways or 'none'})")
    if not isinstance(raw.get("version"), str) or not raw["version"]:
        raise LabConfigError(f"{where}.version: pin a version as a string, e.g. v0.8.0")
    source = raw[ways[0]]
    if ways[0] == "debian" and not str(raw.get("binary", "")).startswith("/"):
        raise LabConfigError(f"{where}.binary: a Debian package needs the absolute path of its binary")
    return BuildSpec(
        name=name,
        version=raw["version"],
        way=ways[0],
        source=tuple(source) if isinstance(source, list) else str(source),
        module=raw.get("module"),
        files=tuple(raw.get("files") or ()),
        tags=tuple(raw.get("tags") or ()),
        binary=raw.get("binary"),
        runner=raw.get("runner"),
    )


def load_specs(path: Path = CONTROLLERS_FILE) -> dict[str, BuildSpec]:
    entries = (yaml.safe_load(path.read_text()) or {}).get("controllers") or {}
    return {name: _parse_spec(name, raw) for name, raw in entries.items()}


def spec_digest(spec: BuildSpec) -> str:
    """What decides the build: the entry itself, the recipe, and a wrapper module's files."""
    build_fields = {k: v for k, v in spec.__dict__.items() if k != "runner"}
    digest = hashlib.sha256(json.dumps([build_fields, RECIPE], sort_keys=True, default=list).encode())
    if spec.way == "go_build":
        for source in sorted(p for p in (LAB_DIR.parent / str(spec.source)).rglob("*") if p.is_file()):
            digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()[:12]


def cache_dir(spec: BuildSpec) -> Path:
    return cache_root() / "lab" / "controllers" / f"{spec.name}-{spec.version}-{spec_digest(spec)}"


def binary_path(spec: BuildSpec) -> Path:
    if spec.way == "debian":
        return Path(str(spec.binary))
    if spec.way == "python":
        return Path(sys.executable)
    if spec.way == "maven":
        # Jars in <cache>/lib, run by the machine's Java (the runner passes -cp and the main class).
        return Path(shutil.which("java") or "/usr/bin/java")
    return cache_dir(spec) / "bin" / spec.binary_name


def share_dir(spec: BuildSpec) -> Path:
    return cache_dir(spec) / "share"


def is_built(spec: BuildSpec) -> bool:
    if spec.way == "python":
        return True  # a module of this package, run by the lab's Python
    if spec.way == "debian":
        return _debian_version(str(spec.source)).startswith(spec.version)
    if spec.way == "maven":
        return (cache_dir(spec) / "lib").is_dir()
    return binary_path(spec).exists()


# ---------------------------------------------------------------------------------------- builds
def _go_env(gobin: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-buildvcs=false", GOWORK="off")
    if gobin is not None:
        env["GOBIN"] = str(gobin)
    return env


def _module_dir(module: str, version: str) -> Path:
    """Where the module's files are in the module cache (downloaded if needed)."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        env=_go_env(),
        cwd="/",
    )
    info = json.loads(out.stdout or "{}")
    if out.returncode != 0 or "Dir" not in info:
        raise LabConfigError(f"go mod download {module}@{version} failed: {info.get('Error') or out.stderr.strip()}")
    return Path(info["Dir"])


def _copy_files(spec: BuildSpec, partial: Path) -> None:
    if not spec.files:
        return
    if not spec.module:
        raise LabConfigError(f"controllers.{spec.name}: files need the module that holds them (module: ...)")
    root = _module_dir(spec.module, spec.version)
    for relative in spec.files:
        source, target = root / relative, partial / "share" / relative
        if not source.exists():
            raise LabConfigError(f"controllers.{spec.name}.files: {relative} is not in {spec.module}@{spec.version}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
    # Files of the module cache are read-only; the copies must be removable with the cache.
    for path in (partial / "share").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _build_go(spec: BuildSpec, partial: Path) -> None:
    tags = [f"-tags={','.join(spec.tags)}"] if spec.tags else []
    gobin = partial / "gobin"
    if spec.way == "go_install":
        _run(["go", "install", "-v", "-trimpath", *tags, f"{spec.source}@{spec.version}"], Path("/"), _go_env(gobin))
        built = next(gobin.iterdir())
    else:
        wrapper = LAB_DIR.parent / str(spec.source)
        built = gobin / spec.binary_name
        env = dict(_go_env(), GOFLAGS="-buildvcs=false -mod=mod")
        _run(["go", "build", "-v", "-trimpath", *tags, "-o", str(built), "."], wrapper, env)
    (partial / "bin").mkdir(exist_ok=True)
    os.replace(built, partial / "bin" / spec.binary_name)
    shutil.rmtree(gobin, ignore_errors=True)


def _build_maven(spec: BuildSpec, partial: Path) -> None:
    """Copy the artifacts and their runtime dependencies into lib/ with a throwaway pom."""
    deps = "".join(
        "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version></dependency>".format(
            *c.split(":")
        )
        for c in spec.source
    )
    (partial / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>platykus.lab</groupId><artifactId>{spec.name}</artifactId><version>1</version>"
        f"<dependencies>{deps}</dependencies></project>"
    )
    _run(
        ["mvn", "-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory=lib"],
        partial,
        dict(os.environ),
    )


def _debian_version(package: str) -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def build_one(spec: BuildSpec, force: bool = False) -> Path:
    """Build (or reuse) one component; return the folder holding it."""
    target = cache_dir(spec)
    if spec.way == "debian":
        if not is_built(spec):
            raise LabConfigError(
                f"controllers.{spec.name}: Debian package {spec.source} {spec.version}* is not installed "
                f"(found {_debian_version(str(spec.source)) or 'none'}); scripts/setup.sh installs it: apt-get install {spec.source}"
            )
        print(f"{spec.name}: Debian {spec.source} {_debian_version(str(spec.source))} at {spec.binary}", flush=True)
        return binary_path(spec).parent
    if is_built(spec) and not force:
        print(f"{spec.name} {spec.version} up to date in {target}", flush=True)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{spec.name}.lock", "w") as lock:
        # One build per entry at a time: a parallel `build` or `up` waits for it, then reuses it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_built(spec) and not force:
            print(f"{spec.name} {spec.version} built meanwhile by another process in {target}", flush=True)
            return target
        started = time.monotonic()
        print(f"building {spec.name} {spec.version} ({spec.way} {spec.source}) into {target}", flush=True)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        (_build_maven if spec.way == "maven" else _build_go)(spec, partial)
        _copy_files(spec, partial)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
        print(f"{spec.name} {spec.version} built in {time.monotonic() - started:.0f}s", flush=True)
    return target


def build_all(force: bool = False, names: tuple[str, ...] = ()) -> dict[str, Path]:
    """Build every entry (or the named ones); Debian packages are checked last, all at once."""
    specs = load_specs()
    wanted = [specs[n] for n in (names or tuple(specs))]
    if shutil.which("go") is None and any(s.way.startswith("go_") and not is_built(s) for s in wanted):
        raise SystemExit("go is not on PATH: install Go 1.24 or newer to build the lab's controllers")
    built = {s.name: build_one(s, force) for s in wanted if s.way not in ("debian", "python")}
    missing = [s for s in wanted if s.way == "debian" and not is_built(s)]
    if missing:
        raise LabConfigError("missing Debian packages: apt-get install " + " ".join(str(s.source) for s in missing))
    built.update({s.name: build_one(s) for s in wanted if s.way == "debian"})
    return built


# What a Maven entry needs: Maven to fetch the jars, a Java 17 runtime to run them (Kafka 4 needs 17).
MAVEN_PACKAGES = ("maven", "openjdk-17-jre-headless")


def debian_packages() -> list[str]:
    """The Debian packages controllers.yml needs (scripts/setup.sh installs the missing ones)."""
    specs = load_specs().values()
    packages = [str(s.source) for s in specs if s.way == "debian"]
    if any(s.way == "maven" for s in specs):
        packages += MAVEN_PACKAGES
    return packages


def main(argv: list[str] | None = None) -> int:
    """`python -m platykus_lab.controller_build [--debian-packages | build [NAME...]]`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--debian-packages"]:
        print(" ".join(debian_packages()))
        return 0
    if args[:1] == ["build"]:
        build_all(force="--force" in args, names=tuple(a for a in args[1:] if not a.startswith("-")))
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
