"""Running the platform controllers beside the lab's control plane, each with its own identity
and the RBAC its upstream chart grants: a registry of `Runner`s (what to start, with which
identity, objects and health check) that the lab's up/down/status drive. Each entry of
lab/controllers.yml names the module registering its Runner (`runner:`); how the entries are
built: controller_build.py.
"""

from __future__ import annotations

import importlib
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import chart_rbac, pki
from .config import LAB_DIR, LabConfigError, free_port, kubeconfig, port_is_free
from .controller_build import BuildSpec, binary_path, build_one, is_built, load_specs, share_dir
from .health import failure, http_request

FIELD_MANAGER = "platykus-lab"
# The lab's state.json keys: each controller's ports, and the command line each was started with.
PORTS_KEY, STARTED_KEY = "controller_ports", "controllers_started"


class ControllerError(RuntimeError):
    """A controller could not be started or made healthy; the message says which and why."""


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


def controller(
    name: str,
    *,
    namespace: str | None,
    account: str | None = None,
    ports: tuple[str, ...] = (),
    args: Callable[[Context], list[str]],
    health: Callable[[Context], str | None],
    env: Callable[[Context], dict[str, str]] = _no_env,
    objects: Callable[[Context], list[dict]] = _no_objects,
    prepare: Callable[[Context], None] = _none,
) -> Runner:
    """Register how the lab runs the controller `name` of controllers.yml.

    With a namespace it authenticates as the ServiceAccount `account` there (default: `name`), the
    one its upstream chart creates; without one it never calls the API server.
    """
    identity = Identity(namespace, account or name) if namespace else None
    return register(Runner(name, identity, ports, args, health, env, objects, prepare))


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


def release_objects(
    ctx: Context, chart: str, namespace: str, release: str, values: dict | None = None, crds: tuple[str, ...] = ()
) -> list[dict]:
    """The CRDs (files or folders under the module's share/) and the RBAC the module's chart
    (share/<chart>) grants the release's ServiceAccount: what a controller run as it needs applied."""
    rendered = chart_rbac.render(ctx.lab, ctx.share / chart, release, namespace, values)
    return yaml_objects(*(ctx.share / c for c in crds)) + chart_rbac.for_account(rendered, namespace, release)


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
