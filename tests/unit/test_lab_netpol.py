"""The NetworkPolicy engine's lab wiring without a lab: its RBAC from the upstream manifest, its
command line, and the one-lab-per-machine ownership of the network namespace's chains."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lab"))
from platykus_lab import controllers, netpol  # noqa: E402

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
    with pytest.raises(controllers.LabConfigError, match="ClusterRole"):
        netpol.rbac_objects(_share(tmp_path, [MANIFEST[0], MANIFEST[2]]))


def test_only_the_firewall_runs(tmp_path):
    lab = SimpleNamespace(state=lambda: {netpol.STATE_KEY: {"node": "real-0"}})
    spec = controllers.load_specs()[netpol.NAME]
    ctx = controllers.Context(lab, spec, {netpol.NAME: {"health": 20244}}, {"apiserver": 1}, tmp_path / "kc")
    args = netpol.RUNNER.args(ctx)
    for flag in ("--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--run-loadbalancer=false"):
        assert flag in args
    assert "--hostname-override=real-0" in args and "--health-port=20244" in args
    assert netpol.RUNNER.env(ctx) == {"NODE_NAME": "real-0"}


def _lab(tmp_path: Path, name: str) -> SimpleNamespace:
    home = tmp_path / name
    (home / "run").mkdir(parents=True)
    return SimpleNamespace(name=name, home=home)


def test_a_second_lab_is_refused_while_the_owner_runs_and_takes_over_after(tmp_path, monkeypatch):
    monkeypatch.setattr(netpol, "OWNER_FILE", tmp_path / "owner.json")
    first, second = _lab(tmp_path, "first"), _lab(tmp_path, "second")
    netpol._claim(first)
    netpol._claim(first)  # its own claim again: fine
    (first.home / "run" / f"{netpol.NAME}.pid").write_text(str(os.getpid()))  # a live process
    with pytest.raises(controllers.ControllerError, match="lab 'first' runs the machine's NetworkPolicy engine"):
        netpol._claim(second)
    (first.home / "run" / f"{netpol.NAME}.pid").unlink()  # the owner's engine is gone
    netpol._claim(second)
    assert netpol._owner()["lab"] == "second"
