"""Start, inspect and stop a lab: etcd, the upstream control plane and kwok on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import controller_run, example_apps, images, netpol, pki
from . import node as realnode
from .config import (
    LAB_DIR,
    NodePool,
    free_port,
    kubeconfig,
    load_pins,
    node_objects,
    port_is_free,
    state_root,
)
from .health import (
    CERT_DIRS,
    SERVES,
    UPSTREAM,
    endpoint,
    endpoint_problem,
    failure,
    http_request,
    probe,
    upstream_endpoint,
)

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
# kwok hands out pod IPs from this range; it is only data in pod status, never routed.
POD_CIDR = "10.244.0.1/16"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
PORT_NAMES = ("etcd_client", "etcd_peer", "apiserver", "controller_manager", "scheduler", "kwok")
# Start order: each stage is healthy before the next starts; a stage's components start together.
STAGES = (("etcd",), ("kube-apiserver",), ("kube-controller-manager", "kube-scheduler", "kwok"))
# How long `up` lets a running component's failing health check recover before restarting it.
PROBE_GRACE_SECONDS = 10.0


class LabError(RuntimeError):
    """The lab could not be brought to the requested state."""


@dataclass
class Lab:
    name: str
    home: Path
    binaries: Path
    # Processes this object started: polled directly (and reaped) rather than read from /proc.
    _procs: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def named(cls, name: str, binaries: Path, home: Path | None = None) -> Lab:
        return cls(name=name, home=(home or state_root() / name).resolve(), binaries=binaries)

    # -- paths -------------------------------------------------------------------------------------
    @property
    def pki_dir(self) -> Path:
        return self.home / "pki"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def kubeconfig_path(self) -> Path:
        return self.home / "kubeconfig"

    def component_kubeconfig(self, who: str) -> Path:
        return self.home / f"{who}.kubeconfig"

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    def state(self) -> dict:
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def _save_state(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state, indent=2, sort_keys=True))

    # -- ports -------------------------------------------------------------------------------------
    def _ports(self) -> dict[str, int]:
        """Reuse the ports of an earlier run (kubeconfigs keep working); pick new free ones otherwise."""
        ports = dict(self.state().get("ports", {}))
        running = {name for name in COMPONENTS if self.pid(name)}
        taken: set[int] = set()
        for key in PORT_NAMES:
            owner_running = _port_owner(key) in running
            port = ports.get(key)
            if port and (owner_running or port_is_free(port)) and port not in taken:
                taken.add(port)
                continue
            port = free_port()
            while port in taken:
                port = free_port()
            ports[key] = port
            taken.add(port)
        return ports

    # -- processes ---------------------------------------------------------------------------------
    def pid(self, component: str) -> int | None:
        """The pid of a running component of this lab, checked against /proc to survive pid reuse."""
        proc = self._procs.get(component)
        if proc is not None:
            if proc.poll() is None:
                return proc.pid
            # Our child died (and is now reaped); another `up` may have started a new one since.
            self._procs.pop(component)
        pid_file = self.run / f"{component}.pid"
        if not pid_file.exists():
            return None
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (ValueError, OSError):
            return None
        if not cmdline or not cmdline[0].endswith(component.encode()):
            return None
        if str(self.home).encode() not in b" ".join(cmdline):
            return None
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        return None if state == "Z" else pid

    def _start(self, component: str, args: list[str], upstream: str | None) -> int:
        """Start a component unless it runs; record the endpoint it dials, for `status` to compare."""
        existing = self.pid(component)
        if existing:
            return existing
        self.logs.mkdir(parents=True, exist_ok=True)
        self.run.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{component}.log", "ab")
        log.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {component}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            [str(self.binaries / component), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives `platykus-lab up`; `down` stops it
            cwd=self.home,
        )
        log.close()
        self._procs[component] = proc
        (self.run / f"{component}.pid").write_text(str(proc.pid))
        state = self.state()
        state.setdefault("started", {})[component] = {"pid": proc.pid, "upstream": upstream}
        self._save_state(state)
        return proc.pid

    def _stop(self, component: str, timeout: float = 15.0) -> bool:
        pid = self.pid(component)
        pid_file = self.run / f"{component}.pid"
        if not pid:
            pid_file.unlink(missing_ok=True)
            self._procs.pop(component, None)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid(component):
            time.sleep(0.1)
        if self.pid(component):
            os.kill(pid, signal.SIGKILL)
            while self.pid(component):
                time.sleep(0.05)
        pid_file.unlink(missing_ok=True)
        self._procs.pop(component, None)
        return True

    # -- component arguments -----------------------------------------------------------------------
    def _args(self, component: str, ports: dict[str, int], files: dict[str, Path]) -> list[str]:
        p, f = ports, {k: str(v) for k, v in files.items()}
        etcd_url = endpoint("etcd", p)
        if component == "etcd":
            peer = f"http://127.0.0.1:{p['etcd_peer']}"
            return [
                "--name=lab",
                f"--data-dir={self.home / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=lab={peer}",
                "--listen-metrics-urls=",
                f"--cert-file={f['etcd-server_cert']}",
                f"--key-file={f['etcd-server_key']}",
                f"--trusted-ca-file={f['ca_cert']}",
                "--client-cert-auth=true",
                # A lab is disposable: skip fsync so 10,000-pod runs are not disk-bound.
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=4294967296",
                "--log-level=warn",
            ]
        if component == "kube-apiserver":
            return [
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={p['apiserver']}",
                f"--etcd-servers={etcd_url}",
                f"--etcd-cafile={f['ca_cert']}",
                f"--etcd-certfile={f['apiserver-etcd-client_cert']}",
                f"--etcd-keyfile={f['apiserver-etcd-client_key']}",
                f"--tls-cert-file={f['apiserver_cert']}",
                f"--tls-private-key-file={f['apiserver_key']}",
                f"--client-ca-file={f['ca_cert']}",
                f"--kubelet-client-certificate={f['apiserver-kubelet-client_cert']}",
                f"--kubelet-client-key={f['apiserver-kubelet-client_key']}",
                f"--service-account-key-file={f['sa_pub']}",
                f"--service-account-signing-key-file={f['sa_key']}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                # The default chain (NamespaceLifecycle, LimitRanger, ServiceAccount, PodSecurity,
                # ResourceQuota, ...) stays on; NodeRestriction is added as kubeadm does.
                "--enable-admission-plugins=NodeRestriction",
                "--allow-privileged=true",
                # logs/exec/port-forward: dial a real node at its IP, not its name (no DNS for it).
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                # The `kubernetes` Service would point at 127.0.0.1, which Endpoints refuse.
                "--endpoint-reconciler-type=none",
                f"--cert-dir={self.home / 'apiserver-certs'}",
                # The aggregation layer (metrics.k8s.io from metrics-server): the API server proxies
                # as front-proxy-client and passes the user in headers extension servers trust.
                f"--proxy-client-cert-file={f['front-proxy-client_cert']}",
                f"--proxy-client-key-file={f['front-proxy-client_key']}",
                f"--requestheader-client-ca-file={f['front-proxy-ca_cert']}",
                f"--requestheader-allowed-names={pki.FRONT_PROXY_CLIENT}",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                "--profiling=false",
                "--v=1",
            ]
        common = [
            f"--kubeconfig={self.component_kubeconfig(component)}",
            f"--authentication-kubeconfig={self.component_kubeconfig(component)}",
            f"--authorization-kubeconfig={self.component_kubeconfig(component)}",
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ]
        if component == "kube-controller-manager":
            return common + [
                f"--secure-port={p['controller_manager']}",
                f"--cert-dir={self.home / CERT_DIRS[component]}",
                f"--root-ca-file={f['ca_cert']}",
                f"--service-account-private-key-file={f['sa_key']}",
                f"--cluster-signing-cert-file={f['ca_cert']}",
                f"--cluster-signing-key-file={f['ca_key']}",
                "--use-service-account-credentials=true",
                "--controllers=*,bootstrapsigner,tokencleaner",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # Simulated nodes report instantly; evict pods from a lost node quickly too.
                "--node-monitor-grace-period=40s",
                "--kube-api-qps=100",
                "--kube-api-burst=200",
                "--concurrent-replicaset-syncs=10",
                "--concurrent-deployment-syncs=10",
                # The HPA reads metrics every 5s (default 15s) so scaling tests settle quickly; a
                # new pod's CPU counts once it has run 10s (default 5m, for JVM-style warm-ups).
                "--horizontal-pod-autoscaler-sync-period=5s",
                "--horizontal-pod-autoscaler-cpu-initialization-period=10s",
            ]
        if component == "kube-scheduler":
            return common + [
                f"--secure-port={p['scheduler']}",
                f"--cert-dir={self.home / CERT_DIRS[component]}",
                "--kube-api-qps=200",
                "--kube-api-burst=400",
            ]
        if component == "kwok":
            return [
                f"--kubeconfig={self.component_kubeconfig('kwok')}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--cidr={POD_CIDR}",
                "--node-ip=127.0.0.1",
                f"--server-address=127.0.0.1:{p['kwok']}",
                "--node-lease-duration-seconds=40",
                # Kubelet resource metrics per node and pod usage from annotations (metrics-server).
                f"--config={LAB_DIR / 'kwok' / 'metrics.yaml'}",
                # Pod stages: kwok's defaults and one completing labelled pods (volume helper pods).
                f"--config={LAB_DIR / 'kwok' / 'stages.yaml'}",
            ]
        raise LabError(f"unknown component {component}")

    # -- health ------------------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))
        context.load_cert_chain(str(self.pki_dir / "admin.crt"), str(self.pki_dir / "admin.key"))
        return context

    def api(
        self, path: str, method: str = "GET", body: dict | None = None, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        port = self.state().get("ports", {}).get("apiserver")
        if not port:
            return 0, b"lab has no apiserver port yet"
        return http_request(f"https://127.0.0.1:{port}{path}", self._ssl_context(), method, body, content_type)

    def _wait(self, what: str, check, timeout: float, component: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if component and not self.pid(component):
                log_path = self.logs / f"{component}.log"
                tail = log_path.read_text(errors="replace").splitlines()[-5:] if log_path.exists() else []
                proc = self._procs.get(component)
                code = f" with exit status {proc.returncode}" if proc is not None else ""
                raise LabError(
                    f"{component} exited{code} while waiting for {what}; see {log_path}:\n  " + "\n  ".join(tail)
                )
            time.sleep(0.2)
        raise LabError(f"timed out after {timeout:.0f}s waiting for {what}; logs are in {self.logs}")

    def readyz(self) -> bool:
        status, _ = self.api("/readyz")
        return status == 200

    def component_problem(self, component: str, ports: dict[str, int]) -> str | None:
        """Why a component is unhealthy, or None: running, dialling the current endpoint, answering."""
        return self._stale(component, ports) or self._probe(component, ports)

    def _stale(self, component: str, ports: dict[str, int]) -> str | None:
        """Why the component's process cannot work whatever it answers: gone, or dialling a moved endpoint."""
        pid = self.pid(component)
        if not pid:
            return "not running"
        if not all(ports.get(name) for name in PORT_NAMES):
            return "the lab's state records no ports; run `platykus-lab up`"
        upstream = upstream_endpoint(component, ports)
        if not upstream:
            return None
        return endpoint_problem(self.state().get("started", {}).get(component), pid, upstream)

    def _probe(self, component: str, ports: dict[str, int]) -> str | None:
        """What the component's health endpoint says is wrong, or None."""
        if component == "etcd":
            return None  # the API server's /readyz checks etcd; etcd's own port needs a client cert
        if component == "kube-apiserver":
            status, body = self.api("/readyz")
            return None if status == 200 else failure(f"{endpoint(component, ports)}/readyz", status, body)
        return probe(self.home, component, ports)

    def nodes(self) -> list[dict]:
        status, body = self.api("/api/v1/nodes")
        return json.loads(body).get("items", []) if status == 200 else []

    @staticmethod
    def node_ready(node: dict) -> bool:
        return any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in node.get("status", {}).get("conditions", [])
        )

    # -- lifecycle ---------------------------------------------------------------------------------
    def up(self, pools: tuple[NodePool, ...], timeout: float = 120.0, log=print, inventory: Path | None = None) -> dict:
        """Bring the lab to running with the given nodes and the platform controllers of
        lab/controllers.yml (Karpenter's instance types from ``inventory``); a second call changes nothing."""
        for attempt in range(3):
            try:
                return self._up(pools, timeout, log, inventory)
            except LabError as err:
                # Free ports are picked then released, and outgoing connections draw from the same
                # range: a component may lose its port before it binds it. Start again on new ports.
                if " exited" not in str(err) or attempt == 2:
                    raise
                log(f"a component stopped during start-up; retrying on new ports ({err})")
                self.down(log=lambda _msg: None)
                self._save_state({"name": self.name, "ports": {}})
        raise LabError("unreachable")

    def _up(self, pools: tuple[NodePool, ...], timeout: float, log, inventory: Path | None) -> dict:
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        files = pki.ensure_pki(self.pki_dir, service_ip=SERVICE_IP)
        ports = self._ports()
        self._save_state({**self.state(), "name": self.name, "ports": ports, "binaries": str(self.binaries)})
        server = endpoint("kube-apiserver", ports)
        self._write_kubeconfigs(server, files)
        restarted: set[str] = set()
        for stage in STAGES:
            restarted |= self._repair(stage, ports, files, restarted, timeout, log)
            if stage == ("kube-apiserver",):
                log(f"kube-apiserver ready on {server} after {time.monotonic() - started:.1f}s")

        self._ensure_nodes(pools)
        wanted = {n["metadata"]["name"] for n in node_objects(pools, load_pins()["kubernetes"])}
        self._wait(
            f"{len(wanted)} Ready nodes",
            lambda: wanted <= {n["metadata"]["name"] for n in self.nodes() if self.node_ready(n)},
            timeout,
            component="kwok",
        )
        # Real nodes (kubelet, containerd, kube-proxy) beside the kwok ones: lab/platykus_lab/node.py.
        try:
            wanted |= set(
                realnode.RealNodes(self).up(
                    realnode.real_nodes_from_inventory(inventory),
                    ports["apiserver"],
                    timeout,
                    log,
                    restart="kube-apiserver" in restarted,
                )
            )
        except (realnode.NodeError, OSError) as err:
            raise LabError(f"real nodes: {err}") from err
        if realnode.RealNodes(self).nets():
            # The example apps' images (examples/apps), built once per source digest, by the names
            # inventories/lab/apps/ gives them: apps deployed on this lab run them for real.
            try:
                example_apps.load(self, log=log)
            except images.ImageError as err:
                raise LabError(f"example app images: {err}") from err
        try:
            controller_run.up(self, inventory, timeout, log, api_restarted="kube-apiserver" in restarted)
            # NetworkPolicy enforced on each real node (lab/platykus_lab/netpol.py).
            netpol.up(self, timeout, log, restart="kube-apiserver" in restarted)
        except (controller_run.ControllerError, realnode.NodeError) as err:
            raise LabError(str(err)) from err
        elapsed = time.monotonic() - started
        log(f"lab '{self.name}' up in {elapsed:.1f}s with {len(wanted)} Ready nodes")
        return {"elapsed": elapsed, "server": server, "kubeconfig": str(self.kubeconfig_path), "nodes": sorted(wanted)}

    def _write_kubeconfigs(self, server: str, files: dict[str, Path]) -> None:
        """The admin's and each client component's kubeconfig, pointing at the current API server."""
        identities = {
            "admin": ("admin", self.kubeconfig_path),
            "kube-controller-manager": ("controller-manager", self.component_kubeconfig("kube-controller-manager")),
            "kube-scheduler": ("scheduler", self.component_kubeconfig("kube-scheduler")),
            "kwok": ("kwok", self.component_kubeconfig("kwok")),
        }
        for user, (stem, path) in identities.items():
            config = kubeconfig(
                f"platykus-{self.name}", server, files["ca_cert"], user, files[f"{stem}_cert"], files[f"{stem}_key"]
            )
            path.write_text(yaml.safe_dump(config, sort_keys=False))
            path.chmod(0o600)

    def _repair(
        self,
        stage: tuple[str, ...],
        ports: dict[str, int],
        files: dict[str, Path],
        restarted: set[str],
        timeout: float,
        log,
    ) -> set[str]:
        """Bring one stage to healthy: restart what is broken, start what is missing; return what started.

        A component whose upstream restarted in this run is restarted too, even on an unchanged
        port: its informers may sit in a back-off of up to 30s and the lab would be "up" but idle.
        """
        for component in stage:
            if not self.pid(component):
                continue
            problem = self._must_restart(component, ports, restarted)
            if problem:
                log(f"restarting {component}: {problem}")
                self._stop(component)
        started = set()
        for component in stage:
            if not self.pid(component):
                self._start(component, self._args(component, ports, files), upstream_endpoint(component, ports))
                started.add(component)
        for component in stage:
            self._wait(
                f"{component} to be healthy",
                lambda c=component: self.component_problem(c, ports) is None,
                timeout,
                component=component,
            )
        return started

    def _must_restart(self, component: str, ports: dict[str, int], restarted: set[str]) -> str | None:
        """Why a running component must be restarted, or None when it can stay.

        A failing probe gets a grace period before the process is killed: a busy API server's
        /readyz fails for seconds (e.g. while etcd catches up) and then recovers by itself.
        """
        upstream = UPSTREAM.get(component)
        if upstream in restarted:
            return f"{upstream} restarted"
        stale = self._stale(component, ports)
        if stale:
            return stale
        deadline = time.monotonic() + PROBE_GRACE_SECONDS
        while (problem := self._probe(component, ports)) and time.monotonic() < deadline:
            time.sleep(1.0)
        return problem

    def _ensure_nodes(self, pools: tuple[NodePool, ...]) -> None:
        """Create missing simulated nodes and delete lab nodes no longer in the inventory."""
        desired = {n["metadata"]["name"]: n for n in node_objects(pools, load_pins()["kubernetes"])}
        existing = {
            n["metadata"]["name"]: n
            for n in self.nodes()
            if (n["metadata"].get("annotations") or {}).get("kwok.x-k8s.io/node") == "fake"
        }
        for name, node in desired.items():
            if name in existing:
                continue
            status, body = self.api("/api/v1/nodes", method="POST", body=node)
            if status not in (200, 201, 409):
                raise LabError(f"creating node {name} failed ({status}): {body[:300]!r}")
        for name in set(existing) - set(desired):
            self.api(f"/api/v1/nodes/{name}", method="DELETE")

    def down(self, purge: bool = False, log=print) -> list[str]:
        """Stop every component (newest first); with purge, delete the lab's state as well."""
        stopped = controller_run.down(self) + netpol.down(self, log) + realnode.RealNodes(self).down(log)
        stopped += [c for c in reversed(COMPONENTS) if self._stop(c)]
        if purge and self.home.exists():
            import shutil

            shutil.rmtree(self.home)
        log(
            f"lab '{self.name}' stopped: {', '.join(stopped) or 'nothing was running'}"
            + (" (state purged)" if purge else "")
        )
        return stopped

    def status(self) -> dict:
        """What runs where, and whether each part is healthy; ready only when every part is."""
        ports = self.state().get("ports", {})
        components = {}
        for name in COMPONENTS:
            problem = self.component_problem(name, ports)
            components[name] = {
                "pid": self.pid(name),
                "log": str(self.logs / f"{name}.log"),
                "port": ports.get(SERVES[name][0]),
                "healthy": problem is None,
                "problem": problem,
            }
        nodes = self.nodes() if components["kube-apiserver"]["healthy"] else []
        node_states = {n["metadata"]["name"]: "Ready" if self.node_ready(n) else "NotReady" for n in nodes}
        problems = [f"{name}: {info['problem']}" for name, info in components.items() if info["problem"]]
        problems += [f"node {name} is NotReady" for name, ready in sorted(node_states.items()) if ready != "Ready"]
        extra = controller_run.status(self) if components["kube-apiserver"]["healthy"] else {}
        extra.update(realnode.RealNodes(self).status())
        extra.update(netpol.status(self))  # the NetworkPolicy engine on each real node
        problems += [f"{name}: {info['problem']}" for name, info in extra.items() if info["problem"]]
        return {
            "name": self.name,
            "home": str(self.home),
            "kubeconfig": str(self.kubeconfig_path),
            "server": endpoint("kube-apiserver", ports) if ports.get("apiserver") else None,
            "ready": not problems,
            "problems": problems,
            "components": components,
            "controllers": extra,
            "nodes": node_states,
        }


def _port_owner(port_name: str) -> str:
    return {
        "etcd_client": "etcd",
        "etcd_peer": "etcd",
        "apiserver": "kube-apiserver",
        "controller_manager": "kube-controller-manager",
        "scheduler": "kube-scheduler",
        "kwok": "kwok",
    }[port_name]
