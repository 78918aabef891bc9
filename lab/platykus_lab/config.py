"""What a lab is made of: where it lives, its node pools, and the pins of its binaries."""

from __future__ import annotations

import hashlib
import os
import random
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from kubernetes.utils.quantity import parse_quantity

LAB_DIR = Path(__file__).resolve().parent.parent
GO_MODULE_DIR = LAB_DIR / "go"
PINS_FILE = LAB_DIR / "pins.yml"

# Bump when build.py changes how binaries are built (flags, stamping), so caches are rebuilt.
BUILD_RECIPE = "trimpath+version-ldflags/1"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CAPACITY_TYPES = ("on-demand", "spot")


class LabConfigError(ValueError):
    """A lab setting is wrong; the message names the field and the fix."""


def cache_root() -> Path:
    return Path(
        os.environ.get("PLATYKUS_CACHE", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "platykus")
    )


def state_root() -> Path:
    default = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "platykus" / "labs"
    return Path(os.environ.get("PLATYKUS_LAB_HOME", default))


def load_pins(path: Path = PINS_FILE) -> dict:
    return yaml.safe_load(path.read_text())


def pins_digest(pins: dict, go_dir: Path = GO_MODULE_DIR) -> str:
    """A short digest of everything that decides the binaries: the pins and the Go module files."""
    digest = hashlib.sha256()
    digest.update(yaml.safe_dump(pins, sort_keys=True).encode())
    for name in ("go.mod", "go.sum"):
        path = go_dir / name
        if path.exists():
            digest.update(path.read_bytes())
    # How the binaries are built matters as much as what; bump BUILD_RECIPE when build.py changes it.
    digest.update(BUILD_RECIPE.encode())
    for source in sorted((go_dir / "cmd").rglob("*.go")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def bin_dir(pins: dict | None = None) -> Path:
    pins = pins if pins is not None else load_pins()
    return cache_root() / "lab" / f"k8s-{pins['kubernetes']}-{pins_digest(pins)}" / "bin"


@dataclass(frozen=True)
class NodePool:
    name: str
    count: int
    instance_type: str
    zones: tuple[str, ...]
    capacity: dict[str, str]
    capacity_type: str = "on-demand"
    labels: dict[str, str] = field(default_factory=dict)


DEFAULT_NODE_POOLS = (
    NodePool(
        name="general",
        count=3,
        instance_type="m5.xlarge",
        zones=("us-east-1a", "us-east-1b", "us-east-1c"),
        capacity={"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"},
    ),
)


def parse_node_pools(raw: object, source: str = "platykus_lab_node_pools") -> tuple[NodePool, ...]:
    """Validate node pools as written in an inventory; raise naming the field at fault."""
    if raw is None:
        return DEFAULT_NODE_POOLS
    if not isinstance(raw, list) or not raw:
        raise LabConfigError(f"{source}: must be a non-empty list of node pools")
    pools, seen = [], set()
    for index, item in enumerate(raw):
        where = f"{source}[{index}]"
        if not isinstance(item, dict):
            raise LabConfigError(f"{where}: must be a mapping with name, count, instance_type, zones, capacity")
        # limits: what Karpenter may add to the pool (its NodePool's limits; the autoscaling stage reads it).
        allowed = ("name", "count", "instance_type", "zones", "capacity", "capacity_type", "labels", "limits")
        unknown = set(item) - set(allowed)
        if unknown:
            raise LabConfigError(f"{where}: unknown keys {sorted(unknown)}; allowed: {', '.join(allowed)}")
        if not isinstance(item.get("limits", {}), dict):
            raise LabConfigError(f"{where}.limits: must be a mapping of resources to quantities, e.g. {{cpu: '16'}}")
        name = item.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > 40:
            raise LabConfigError(
                f"{where}.name: {name!r} must be a DNS-1123 label of at most 40 characters, e.g. general"
            )
        if name in seen:
            raise LabConfigError(f"{where}.name: pool {name!r} is defined twice; give each pool its own name")
        seen.add(name)
        count = item.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 5000:
            raise LabConfigError(f"{where}.count: {count!r} must be a whole number from 0 to 5000")
        instance_type = item.get("instance_type")
        if not isinstance(instance_type, str) or not instance_type:
            raise LabConfigError(f"{where}.instance_type: set the instance type, e.g. m5.xlarge")
        zones = item.get("zones")
        if not isinstance(zones, list) or not zones or not all(isinstance(z, str) and z for z in zones):
            raise LabConfigError(
                f"{where}.zones: must be a non-empty list of zone names, e.g. [us-east-1a, us-east-1b]"
            )
        capacity = item.get("capacity")
        if not isinstance(capacity, dict) or not {"cpu", "memory"} <= set(capacity):
            raise LabConfigError(
                f"{where}.capacity: must give at least cpu and memory, e.g. {{cpu: '4', memory: 16Gi}}"
            )
        clean_capacity = {"pods": "110"}
        for resource, value in capacity.items():
            try:
                if parse_quantity(value) <= 0:
                    raise ValueError("must be positive")
            except (ValueError, TypeError) as err:
                raise LabConfigError(
                    f"{where}.capacity.{resource}: {value!r} is not a positive quantity ({err}); write it like 4, 500m or 16Gi"
                ) from err
            clean_capacity[str(resource)] = str(value)
        capacity_type = item.get("capacity_type", "on-demand")
        if capacity_type not in CAPACITY_TYPES:
            raise LabConfigError(f"{where}.capacity_type: {capacity_type!r} must be one of {', '.join(CAPACITY_TYPES)}")
        labels = item.get("labels") or {}
        if not isinstance(labels, dict):
            raise LabConfigError(f"{where}.labels: must be a mapping of label keys to values")
        pools.append(
            NodePool(
                name,
                count,
                instance_type,
                tuple(zones),
                clean_capacity,
                capacity_type,
                {str(k): str(v) for k, v in labels.items()},
            )
        )
    return tuple(pools)


SHARED_VARS = LAB_DIR.parent / "vars"


def inventory_vars(inventory: Path | None) -> dict[str, tuple[object, Path]]:
    """The ``all`` group's variables as Ansible reads them for ``inventory``: the shared ``vars/``
    folder (the shared_defaults vars plugin) first, then the inventory's group_vars/all (a folder
    of files or one file), which win. Each value with the file it came from; Jinja left unrendered."""
    folders = [SHARED_VARS] + ([inventory / "group_vars" / "all"] if inventory is not None else [])
    files = [path for folder in folders if folder.is_dir() for path in sorted(folder.glob("*.yml"))]
    if inventory is not None and (inventory / "group_vars" / "all.yml").is_file():
        files.append(inventory / "group_vars" / "all.yml")
    found: dict[str, tuple[object, Path]] = {}
    for path in files:
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            found[key] = (value, path)
    return found


def node_pools_from_inventory(inventory: Path | None) -> tuple[NodePool, ...]:
    """Read ``platykus_lab_node_pools`` from an inventory's variables (see :func:`inventory_vars`)."""
    if inventory is None:
        return DEFAULT_NODE_POOLS
    found = inventory_vars(inventory).get("platykus_lab_node_pools")
    if found is None:
        return DEFAULT_NODE_POOLS
    value, path = found
    return parse_node_pools(value, f"{path}: platykus_lab_node_pools")


def resource_metrics_path(node: str) -> str:
    """Where kwok serves a simulated node's kubelet resource metrics (the Metric of lab/kwok/metrics.yaml)."""
    return f"/metrics/nodes/{node}/metrics/resource"


def node_objects(pools: tuple[NodePool, ...], kubernetes_version: str) -> list[dict]:
    """The simulated Node objects: labelled as EKS labels them, with capacity as the inventory says."""
    nodes = []
    for pool in pools:
        for index in range(pool.count):
            zone = pool.zones[index % len(pool.zones)]
            name = f"{pool.name}-{index}"
            labels = {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": pool.instance_type,
                "topology.kubernetes.io/zone": zone,
                "topology.kubernetes.io/region": zone.rstrip("abcdefghijklmnopqrstuvwxyz") or zone,
                "karpenter.sh/capacity-type": pool.capacity_type,
                "eks.amazonaws.com/capacityType": "SPOT" if pool.capacity_type == "spot" else "ON_DEMAND",
                "platykus.io/node-pool": pool.name,
                "type": "kwok",
                **pool.labels,
            }
            nodes.append(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "labels": labels,
                        "annotations": {
                            "kwok.x-k8s.io/node": "fake",
                            "node.alpha.kubernetes.io/ttl": "0",
                            # metrics-server scrapes this path on kwok's port (lab/kwok/metrics.yaml).
                            "metrics.k8s.io/resource-metrics-path": resource_metrics_path(name),
                        },
                    },
                    "spec": {},
                    "status": {
                        "capacity": dict(pool.capacity),
                        "allocatable": dict(pool.capacity),
                        "nodeInfo": {
                            "architecture": "amd64",
                            "operatingSystem": "linux",
                            "kubeletVersion": kubernetes_version,
                            "kubeProxyVersion": kubernetes_version,
                        },
                    },
                }
            )
    return nodes


# Below Linux's ephemeral range (32768-60999): a port the kernel hands out for bind(0) may be
# taken as the source port of an outgoing connection before the lab's component binds it.
LAB_PORT_RANGE = (20000, 32000)


def free_port(host: str = "127.0.0.1") -> int:
    """A port no one listens on now, outside the range outgoing connections draw from."""
    for _ in range(200):
        port = random.randrange(*LAB_PORT_RANGE)
        if port_is_free(port, host):
            return port
    raise LabConfigError(f"no free port on {host} in {LAB_PORT_RANGE[0]}-{LAB_PORT_RANGE[1]}")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on the port now: no one listens there. With SO_REUSEADDR, as
    every lab server binds (Go's net, werkzeug, Java's ServerSocketChannel, PostgreSQL...): the
    connections a killed server leaves in TIME_WAIT do not move it to another port (the lab's AWS
    kept its state over a crash but moved, and the endpoint `env` had exported went stale)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def kubeconfig(cluster: str, server: str, ca_cert: Path, user: str, cert: Path, key: Path) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority": str(ca_cert)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
    }
