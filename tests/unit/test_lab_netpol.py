"""The NetworkPolicy engine's lab wiring without a lab: its RBAC from the upstream manifest, its
command line, and the one-lab-per-machine ownership of the network namespace's chains."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lab"))
from platykus_lab import controller_build, controller_run, netpol  # noqa: E402

MANIFEST = [
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kube-router", "namespace": "kube-system"}},
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "kube-router", "namespace": "kube-system"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "kube-router"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kube-router"},
        "subjects": [{"kind": "ServiceAccount", "name": "kube-router", "namespace": "kube-system"}],
    },
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-router", "namespace": "kube-system"}},
]


def _share(tmp_path: Path, docs: list[dict]) -> Path:
    path = tmp_path / netpol.RBAC_MANIFEST
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump_all(docs))
    return tmp_path


def test_rbac_is_the_manifests_without_the_daemonset_and_cluster_objects_unnamespaced(tmp_path):
    objects = netpol.rbac_objects(_share(tmp_path, MANIFEST))
    assert [o["kind"] for o in objects] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
    assert "namespace" not in objects[1]["metadata"]
    assert objects[0]["metadata"]["namespace"] == "kube-system"
    # The identity the lab issues is the manifest's ServiceAccount.
    assert netpol.IDENTITY.username == "system:serviceaccount:kube-system:kube-router"


def test_a_manifest_without_its_cluster_role_is_refused(tmp_path):
    with pytest.raises(controller_run.LabConfigError, match="ClusterRole"):
        netpol.rbac_objects(_share(tmp_path, [MANIFEST[0], MANIFEST[2]]))


def test_only_the_firewall_runs():
    args = netpol.args("real-0", Path("/lab/nodes/real-0/kube-router.kubeconfig"), "10.96.0.0/16")
    for flag in ("--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--run-loadbalancer=false"):
        assert flag in args
    assert "--enable-cni=false" in args and "--metrics-port=0" in args
    assert "--hostname-override=real-0" in args and f"--health-port={netpol.HEALTH_PORT}" in args
    assert "--service-cluster-ip-range=10.96.0.0/16" in args


@pytest.mark.parametrize(("value", "on"), [(None, True), ("on", True), ("off", False), ("0", False), ("no", False)])
def test_network_policy_can_be_switched_off(monkeypatch, value, on):
    if value is None:
        monkeypatch.delenv(netpol.SWITCH, raising=False)
    else:
        monkeypatch.setenv(netpol.SWITCH, value)
    assert netpol.wanted() is on


def test_the_engine_is_built_from_its_pin_with_its_manifests():
    spec = controller_build.load_specs()[netpol.NAME]
    assert spec.way == "go_install" and spec.version == "v2.1.0" and spec.runner is None
    assert netpol.RBAC_MANIFEST in spec.files
