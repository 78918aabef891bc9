"""The lab's controller framework without a lab: specs, cache keys, identities, instance types."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from platykus_lab import controllers, karpenter, pki
from platykus_lab.config import LabConfigError, NodePool, cache_root, load_pins

ROOT = Path(__file__).resolve().parents[2]


def test_every_entry_parses_and_has_its_own_cache_folder():
    specs = controllers.load_specs()
    assert {"metrics-server", "karpenter", "prometheus", "alertmanager"} <= set(specs)
    folders = {controllers.cache_dir(spec) for spec in specs.values()}
    assert len(folders) == len(specs)
    assert all(folder.parent == cache_root() / "lab" / "controllers" for folder in folders)


def test_controllers_stay_out_of_the_kubernetes_build_key(tmp_path):
    """A controller pin must never rebuild the 13-minute Kubernetes build."""
    assert "metrics-server" not in load_pins()
    assert "controllers" not in (ROOT / "lab" / "go" / "go.mod").read_text()


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"version": "v1"}, "exactly one of"),
        ({"version": "v1", "go_install": "a/b", "debian": "x", "binary": "/usr/bin/x"}, "exactly one of"),
        ({"go_install": "a/b"}, ".version"),
        ({"version": "v1", "debian": "pkg"}, "absolute path"),
        ({"version": "v1", "go_install": "a/b", "colour": "red"}, "unknown keys"),
    ],
)
def test_a_wrong_entry_names_the_field(raw, message):
    with pytest.raises(LabConfigError, match=message):
        controllers._parse_spec("x", raw)


def test_the_cache_key_follows_the_pin_not_the_runner():
    spec = controllers._parse_spec("x", {"version": "v1", "go_install": "a/b/cmd/x", "runner": "m"})
    bumped = controllers._parse_spec("x", {"version": "v2", "go_install": "a/b/cmd/x", "runner": "m"})
    moved = controllers._parse_spec("x", {"version": "v1", "go_install": "a/b/cmd/x", "runner": "other"})
    assert controllers.spec_digest(spec) != controllers.spec_digest(bumped)
    assert controllers.spec_digest(spec) == controllers.spec_digest(moved)


def test_every_entry_with_a_runner_registers_it():
    names = [runner.name for runner in controllers.runners()]
    assert names == [name for name, spec in controllers.load_specs().items() if spec.runner]


def test_identity_is_the_charts_service_account(tmp_path):
    pki.ensure_pki(tmp_path)
    identity = controllers.Identity("platykus-system", "metrics-server")
    cert, _key = pki.ensure_client(tmp_path, "controllers/metrics-server", identity.username, identity.groups)
    subject = pki.load_cert(cert).subject.rfc4514_string()
    assert "CN=system:serviceaccount:platykus-system:metrics-server" in subject
    assert "O=system:serviceaccounts:platykus-system" in subject
    again, _ = pki.ensure_client(tmp_path, "controllers/metrics-server", identity.username, identity.groups)
    assert again.read_bytes() == cert.read_bytes()


UPSTREAM = [
    {
        "name": "m5.xlarge",
        "operatingSystems": ["windows"],
        "architecture": "x86_64",
        "resources": {"cpu": "4"},
        "offerings": [],
    },
    {
        "name": "m5.xlarge",
        "operatingSystems": ["linux"],
        "architecture": "x86_64",
        "resources": {"cpu": "4", "memory": "16Gi"},
        "offerings": [],
    },
    {
        "name": "g6.24xlarge",
        "operatingSystems": ["linux"],
        "architecture": "x86_64",
        "resources": {"cpu": "96"},
        "offerings": [],
    },
]


def test_instance_types_are_the_priced_ones_in_the_pools_zones():
    prices = karpenter.validate_prices(
        {"currency": "USD", "spot_discount": 0.5, "instance_types": {"m5.xlarge": 0.2, "c5.large": 0.1}}, "prices"
    )
    pools = (NodePool("general", 1, "m5.xlarge", ("us-east-1a", "us-east-1b"), {"cpu": "4", "memory": "16Gi"}),)
    types = karpenter.instance_types(UPSTREAM, pools, prices)
    assert [t["name"] for t in types] == ["m5.xlarge"]
    assert types[0]["resources"] == {"cpu": "4", "memory": "16Gi"}
    offers = {
        (o["Requirements"][0]["values"][0], o["Requirements"][1]["values"][0]): o["Price"]
        for o in types[0]["offerings"]
    }
    assert offers == {
        ("on-demand", "us-east-1a"): 0.2,
        ("on-demand", "us-east-1b"): 0.2,
        ("spot", "us-east-1a"): float(Decimal("0.2") * Decimal("0.5")),
        ("spot", "us-east-1b"): float(Decimal("0.2") * Decimal("0.5")),
    }


def test_the_lab_inventory_prices_every_type_karpenter_may_launch():
    catalog = karpenter.price_catalog(ROOT / "inventories" / "lab")
    assert catalog is not None and "m5.xlarge" in catalog.instance_types


def test_kwok_metrics_config_serves_resource_metrics_and_annotation_usage():
    docs = list(yaml.safe_load_all((ROOT / "lab" / "kwok" / "metrics.yaml").read_text()))
    kinds = {doc["kind"]: doc for doc in docs}
    assert kinds["Metric"]["spec"]["path"] == "/metrics/nodes/{nodeName}/metrics/resource"
    assert "kwok.x-k8s.io/usage-cpu" in kinds["ClusterResourceUsage"]["spec"]["usages"][0]["usage"]["cpu"]["expression"]


def test_the_aggregation_proxy_has_a_ca_of_its_own(tmp_path):
    files = pki.ensure_pki(tmp_path)
    client = pki.load_cert(files["front-proxy-client_cert"])
    assert client.issuer == pki.load_cert(files["front-proxy-ca_cert"]).subject
    assert client.issuer != pki.load_cert(files["ca_cert"]).subject
    assert pki.FRONT_PROXY_CLIENT in client.subject.rfc4514_string()


def test_a_lab_may_run_only_the_named_controllers(monkeypatch):
    monkeypatch.setenv("PLATYKUS_LAB_CONTROLLERS", "prometheus, metrics-server")
    assert [r.name for r in controllers.runners()] == ["metrics-server", "prometheus"]
    monkeypatch.setenv("PLATYKUS_LAB_CONTROLLERS", "none")
    assert controllers.runners() == []
    monkeypatch.setenv("PLATYKUS_LAB_CONTROLLERS", "grafana")
    with pytest.raises(LabConfigError, match="grafana"):
        controllers.runners()
