"""The platform controllers the lab runs beside its control plane: built once per pin, then run
as processes of the lab, each with its own identity and the RBAC its upstream chart grants.

Two halves:
- building: lab/controllers.yml -> ~/.cache/platykus/lab/controllers/<name>-<version>-<digest>/
  (bin/ the binary, share/ files copied from the module, lib/ Maven jars), one lock per entry;
- running: a registry of `Runner`s (what to start, with which identity, objects and health check)
  that the lab's up/down/status drive. Each entry names the module registering its Runner (`runner:`).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import pki
from .build import _run
from .config import LAB_DIR, LabConfigError, cache_root, free_port, kubeconfig, port_is_free
from .health import failure, http_request

CONTROLLERS_FILE = LAB_DIR / "controllers.yml"
WRAPPERS_DIR = LAB_DIR / "controllers"
# Bump when the build steps below change, so cached builds are redone.
RECIPE = "controllers/1"
_WAYS = ("go_install", "go_build", "debian", "maven", "python")
_FIELDS = {"version", "module", "files", "tags", "binary", "runner", *_WAYS}
FIELD_MANAGER = "platykus-lab"
# The lab's state.json keys: each controller's ports, and the command line each was started with.
PORTS_KEY, STARTED_KEY = "controller_ports", "controllers_started"


class ControllerError(RuntimeError):
    """A controller could not be started or made healthy; the message says which and why."""


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


# -------------------------------------------------------------------------------------- identity
@dataclass(frozen=True)
class Identity:
    """The ServiceAccount the upstream chart creates: the controller authenticates as it.

    A client certificate from the lab CA with the ServiceAccount's user name and groups is what
    the API server sees for a token of that account, so the chart's RBAC applies unchanged.
    """

    namespace: str
    service_account: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    @property
    def groups(self) -> tuple[str, ...]:
        return ("system:serviceaccounts", f"system:serviceaccounts:{self.namespace}")

    def objects(self) -> list[dict]:
        return [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}},
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": self.service_account, "namespace": self.namespace},
            },
        ]


def identity_kubeconfig(lab, name: str, identity: Identity, server: str) -> Path:
    """Issue (or reuse) the identity's client certificate and write its kubeconfig."""
    cert, key = pki.ensure_client(lab.pki_dir, f"controllers/{name}", identity.username, identity.groups)
    path = lab.home / "controllers" / name / "kubeconfig"
    path.parent.mkdir(parents=True, exist_ok=True)
    config = kubeconfig(f"platykus-{lab.name}", server, lab.pki_dir / "ca.crt", identity.username, cert, key)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------------------------------- runners
@dataclass(frozen=True)
class Context:
    """What a runner sees of the lab when it is started or checked."""

    lab: object  # cluster.Lab (not imported: cluster imports this module)
    spec: BuildSpec
    ports: dict[str, dict[str, int]]  # every controller's ports, by controller then port name
    lab_ports: dict[str, int]
    kubeconfig: Path | None
    inventory: Path | None = None

    @property
    def workdir(self) -> Path:
        return self.lab.home / "controllers" / self.spec.name

    @property
    def own(self) -> dict[str, int]:
        return self.ports.get(self.spec.name, {})

    @property
    def share(self) -> Path:
        return share_dir(self.spec)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.lab_ports['apiserver']}"


def _none(_ctx: Context) -> None:
    return None


def _no_objects(_ctx: Context) -> list[dict]:
    return []


def _no_env(_ctx: Context) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Runner:
    """How the lab runs one controller of controllers.yml (same name)."""

    name: str
    identity: Identity | None  # None: it never calls the API server (Alertmanager)
    ports: tuple[str, ...]  # the ports it serves; the first one answers the health check
    args: Callable[[Context], list[str]]
    health: Callable[[Context], str | None]  # why it is unhealthy, or None
    env: Callable[[Context], dict[str, str]] = _no_env
    # CRDs, the chart's RBAC, APIServices...: applied (server-side, as admin) before it starts.
    objects: Callable[[Context], list[dict]] = _no_objects
    # Config files and anything else it reads at start.
    prepare: Callable[[Context], None] = _none


REGISTRY: dict[str, Runner] = {}


def http_check(port_name: str, path: str, scheme: str = "http") -> Callable[[Context], str | None]:
    """A health check: GET <scheme>://127.0.0.1:<the runner's port>/<path> must answer 200.

    Over https the certificate is not verified: controllers serve with one they made themselves.
    """

    def check(ctx: Context) -> str | None:
        url = f"{scheme}://127.0.0.1:{ctx.own[port_name]}{path}"
        context = None
        if scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        status, body = http_request(url, context, timeout=5)
        return None if status == 200 else failure(url, status, body)

    return check


def register(runner: Runner) -> Runner:
    REGISTRY[runner.name] = runner
    return runner


def selected(specs: dict[str, BuildSpec]) -> list[BuildSpec]:
    """The entries a lab runs: every one with a runner, or those PLATYKUS_LAB_CONTROLLERS names
    (comma-separated; `none` for a bare control plane), e.g. for a quick lab while developing one."""
    chosen = os.environ.get("PLATYKUS_LAB_CONTROLLERS")
    runnable = [spec for spec in specs.values() if spec.runner]
    if chosen is None:
        return runnable
    names = {name.strip() for name in chosen.split(",") if name.strip() and name.strip() != "none"}
    unknown = names - {spec.name for spec in runnable}
    if unknown:
        raise LabConfigError(
            f"PLATYKUS_LAB_CONTROLLERS: {', '.join(sorted(unknown))} not in lab/controllers.yml (with a runner)"
        )
    return [spec for spec in runnable if spec.name in names]


def runners() -> list[Runner]:
    """The runners of controllers.yml's entries, in its order (entries without `runner` are build-only)."""
    specs = selected(load_specs())
    for spec in specs:
        importlib.import_module(spec.runner)
        if spec.name not in REGISTRY:
            raise LabConfigError(
                f"controllers.{spec.name}.runner: {spec.runner} registers no Runner named {spec.name!r}"
            )
    return [REGISTRY[spec.name] for spec in specs]


# ---------------------------------------------------------------------------------- lab actions
def kubectl_apply(lab, objects: list[dict]) -> None:
    """One server-side apply as the lab admin; CRDs first, established before their objects."""
    crds = [o for o in objects if o.get("kind") == "CustomResourceDefinition"]
    rest = [o for o in objects if o.get("kind") != "CustomResourceDefinition"]
    for batch in (crds, rest):
        if not batch:
            continue
        _kubectl(
            lab,
            "apply",
            "--server-side",
            "--force-conflicts",
            f"--field-manager={FIELD_MANAGER}",
            "-f",
            "-",
            input=yaml.safe_dump_all(batch),
        )
        if batch is crds:
            names = [f"crd/{o['metadata']['name']}" for o in crds]
            _kubectl(lab, "wait", "--for=condition=Established", "--timeout=60s", *names)


def _kubectl(lab, *args: str, input: str | None = None) -> str:
    cmd = [str(lab.binaries / "kubectl"), f"--kubeconfig={lab.kubeconfig_path}", *args]
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ControllerError(f"kubectl {' '.join(args[:2])} failed: {proc.stderr.strip()[:2000]}")
    return proc.stdout


def chart_objects(
    lab, chart: Path, release: str, namespace: str, kinds: tuple[str, ...], values: dict | None = None
) -> list[dict]:
    """Render an upstream chart from the module and keep only the given kinds (its RBAC, say)."""
    cmd = [str(lab.binaries / "helm"), "template", release, str(chart), "--namespace", namespace, "-f", "-"]
    proc = subprocess.run(cmd, input=yaml.safe_dump(values or {}), capture_output=True, text=True)
    if proc.returncode != 0:
        raise ControllerError(f"helm template {chart} failed: {proc.stderr.strip()[:2000]}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc and doc.get("kind") in kinds]


def yaml_objects(*paths: Path) -> list[dict]:
    """Every document of the given YAML files (folders: their *.yaml, sorted)."""
    files = [f for p in paths for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    return [doc for f in files for doc in yaml.safe_load_all(f.read_text()) if doc]


def _ports(lab, state: dict, active: list[Runner]) -> dict[str, dict[str, int]]:
    """Keep each controller's ports while it runs or they are free; pick new ones otherwise."""
    recorded = state.get(PORTS_KEY, {})
    ports: dict[str, dict[str, int]] = {}
    taken = set(state.get("ports", {}).values())
    for runner in active:
        mine = dict(recorded.get(runner.name, {}))
        running = pid(lab, runner.name) is not None
        for port_name in runner.ports:
            port = mine.get(port_name)
            if not port or port in taken or not (running or port_is_free(port)):
                port = free_port()
                while port in taken:
                    port = free_port()
            mine[port_name] = port
            taken.add(port)
        ports[runner.name] = mine
    return ports


def _context(lab, runner: Runner, spec: BuildSpec, ports: dict, lab_ports: dict, inventory: Path | None) -> Context:
    server = f"https://127.0.0.1:{lab_ports['apiserver']}"
    kube = identity_kubeconfig(lab, runner.name, runner.identity, server) if runner.identity else None
    return Context(lab, spec, ports, lab_ports, kube, inventory)


def contexts(lab) -> Iterator[Context]:
    """A read-only context per controller that has recorded ports (no file is written)."""
    state, specs = lab.state(), load_specs()
    ports = state.get(PORTS_KEY) or {}
    for runner in runners():
        if runner.name in ports:
            kube = lab.home / "controllers" / runner.name / "kubeconfig" if runner.identity else None
            yield Context(lab, specs[runner.name], ports, state.get("ports", {}), kube)


# The processes this Python process started, by controller name.
_CHILDREN: dict[str, subprocess.Popen] = {}


def pid(lab, name: str) -> int | None:
    """The pid of this lab's controller, or None: the pid file's process must still be alive and
    name the controller's folder in the lab (every runner passes a path inside it)."""
    pid_file = lab.run / f"{name}.pid"
    try:
        number = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{number}/cmdline").read_bytes().replace(b"\0", b" ")
        state = Path(f"/proc/{number}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (ValueError, OSError):
        return None
    if str(lab.home / "controllers" / name).encode() not in cmdline or state == "Z":
        return None
    return number


def command(ctx: Context, runner: Runner) -> list[str]:
    """The command line: the binary and the runner's arguments (`python -m <module>` for in-tree ones)."""
    prefix = ["-m", str(ctx.spec.source)] if ctx.spec.way == "python" else []
    return [str(binary_path(ctx.spec)), *prefix, *runner.args(ctx)]


def _spawn(ctx: Context, runner: Runner) -> int:
    """Start the controller's process with its log and pid file where the lab keeps its own."""
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    ctx.lab.logs.mkdir(parents=True, exist_ok=True)
    ctx.lab.run.mkdir(parents=True, exist_ok=True)
    log = open(ctx.lab.logs / f"{runner.name}.log", "ab")
    log.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {runner.name}\n".encode())
    log.flush()
    cmd = command(ctx, runner)
    env = dict(os.environ, **runner.env(ctx))
    if ctx.spec.way == "python":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(LAB_DIR), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=ctx.workdir,
        env=env,
        start_new_session=True,
    )
    log.close()
    (ctx.lab.run / f"{runner.name}.pid").write_text(str(proc.pid))
    _CHILDREN[runner.name] = proc
    return proc.pid


def _stop_pid(lab, name: str, timeout: float = 15.0) -> bool:
    number = pid(lab, name)
    if not number:
        return False
    os.kill(number, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid(lab, name):
        time.sleep(0.1)
    if pid(lab, name):
        os.kill(number, signal.SIGKILL)
    (lab.run / f"{name}.pid").unlink(missing_ok=True)
    return True


def _wait_healthy(ctx: Context, runner: Runner, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    problem = "not checked"
    while time.monotonic() < deadline:
        # Our own child: ask it (and reap it) rather than read /proc.
        if _CHILDREN[runner.name].poll() is not None:
            tail = (ctx.lab.logs / f"{runner.name}.log").read_text(errors="replace").splitlines()[-8:]
            code = _CHILDREN[runner.name].returncode
            raise ControllerError(
                f"{runner.name} exited with status {code} during start-up; see {ctx.lab.logs / runner.name}.log:\n  "
                + "\n  ".join(tail)
            )
        problem = runner.health(ctx)
        if problem is None:
            return
        time.sleep(0.5)
    raise ControllerError(f"{runner.name} not healthy after {timeout:.0f}s: {problem}")


def up(
    lab,
    inventory: Path | None = None,
    timeout: float = 120.0,
    log: Callable[[str], None] = print,
    api_restarted: bool = False,
) -> list[str]:
    """Start every registered controller (after the lab's own components); return the ones started.

    A controller keeps running when it is healthy and was started against the API server's
    current endpoint; otherwise it is restarted.
    """
    state, specs, active = lab.state(), load_specs(), runners()
    for runner in active:
        if not is_built(specs[runner.name]):
            build_one(specs[runner.name])
    ports = _ports(lab, state, active)
    state = lab.state()
    state[PORTS_KEY] = ports
    lab._save_state(state)
    started = []
    for runner in active:
        ctx = _context(lab, runner, specs[runner.name], ports, state["ports"], inventory)
        if _ensure_running(ctx, runner, timeout, log, api_restarted):
            started.append(runner.name)
    return started


def _ensure_running(
    ctx: Context, runner: Runner, timeout: float, log: Callable[[str], None], api_restarted: bool
) -> bool:
    objects = (runner.identity.objects() if runner.identity else []) + runner.objects(ctx)
    if objects:
        kubectl_apply(ctx.lab, objects)
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    runner.prepare(ctx)
    record = ctx.lab.state().get(STARTED_KEY, {}).get(runner.name) or {}
    running = pid(ctx.lab, runner.name)
    # Started by this lab with today's command line (ports, API server endpoint, flags) and healthy: keep.
    # A restarted API server, even on the same port, leaves clients in a back-off: restart them too;
    # a controller that never calls it (no identity: the lab's AWS, the data servers) is no client.
    why = "the API server restarted" if api_restarted and dials_api(runner) else None
    if running and not why:
        why = _stale(ctx, runner, record, running) or (None if runner.health(ctx) is None else "unhealthy")
        if why is None:
            return False
    if running:
        log(f"restarting {runner.name}: {why}")
        _stop_pid(ctx.lab, runner.name)
    started = _spawn(ctx, runner)
    state = ctx.lab.state()
    record = {"pid": started, "command": command(ctx, runner), "upstream": ctx.server if dials_api(runner) else None}
    state.setdefault(STARTED_KEY, {})[runner.name] = record
    ctx.lab._save_state(state)
    _wait_healthy(ctx, runner, timeout)
    log(f"{runner.name} {ctx.spec.version} running (pid {started}, ports {ctx.own or '-'})")
    return True


def dials_api(runner: Runner) -> bool:
    """Whether the controller calls the API server (it has an identity there): only those depend
    on its endpoint and are restarted after it restarts."""
    return runner.identity is not None


def _stale(ctx: Context, runner: Runner, record: dict, running: int) -> str | None:
    """Why a running controller must be restarted whatever it answers: it was started by someone
    else, with another command line, or against an API server endpoint that has since moved (its
    kubeconfig file is rewritten, but the process keeps the endpoint it read at start)."""
    if record.get("pid") != running:
        return "started without a record of how"
    if record.get("command") != command(ctx, runner):
        return "started with another command line"
    if dials_api(runner) and record.get("upstream") != ctx.server:
        return f"dials {record.get('upstream')}, but the current endpoint is {ctx.server}"
    return None


def _problem(ctx: Context, runner: Runner, running: int | None) -> str | None:
    if not running:
        return "not running"
    record = ctx.lab.state().get(STARTED_KEY, {}).get(runner.name) or {}
    return _stale(ctx, runner, record, running) or runner.health(ctx)


def down(lab) -> list[str]:
    """Stop every controller of the lab, newest first."""
    # Every entry with a runner, not only the selected ones: a lab may have started others before.
    names = [spec.name for spec in reversed(list(load_specs().values())) if spec.runner]
    return [name for name in names if _stop_pid(lab, name)]


def status(lab) -> dict[str, dict]:
    """Per controller: pid, ports, log, and why it is unhealthy (None when healthy)."""
    result = {}
    if not lab.state().get(PORTS_KEY):
        return result
    for ctx in contexts(lab):
        runner = REGISTRY[ctx.spec.name]
        running = pid(lab, runner.name)
        result[runner.name] = {
            "pid": running,
            "ports": ctx.own,
            "log": str(lab.logs / f"{runner.name}.log"),
            "problem": _problem(ctx, runner, running),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    """`python -m platykus_lab.controllers [--debian-packages | build [NAME...]]`."""
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
