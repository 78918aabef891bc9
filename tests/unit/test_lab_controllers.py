"""The lab's controller framework without a lab: specs, cache keys, identities, instance types."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from platykus_lab import controller_build, controller_run, karpenter, pki
from platykus_lab.config import LabConfigError, NodePool, cache_root, load_pins

ROOT = Path(__file__).resolve().parents[2]


def test_every_entry_parses_and_has_its_own_cache_folder():
    specs = controller_build.load_specs()
    assert {"metrics-server", "karpenter", "prometheus", "alertmanager"} <= set(specs)
    folders = {controller_build.cache_dir(spec) for spec in specs.values()}
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
        controller_build._parse_spec("x", raw)


def test_the_cache_key_follows_the_pin_not_the_runner():
    spec = controller_build._parse_spec("x", {"version": "v1", "go_install": "a/b/cmd/x", "runner": "m"})
    bumped = controller_build._parse_spec("x", {"version": "v2", "go_install": "a/b/cmd/x", "runner": "m"})
    moved = controller_build._parse_spec("x", {"version": "v1", "go_install": "a/b/cmd/x", "runner": "other"})
    assert controller_build.spec_digest(spec) != controller_build.spec_digest(bumped)
    assert controller_build.spec_digest(spec) == controller_build.spec_digest(moved)


def test_every_entry_with_a_runner_registers_it():
    names = [runner.name for runner in controller_run.runners()]
    assert names == [name for name, spec in controller_build.load_specs().items() if spec.runner]


def test_identity_is_the_charts_service_account(tmp_path):
    pki.ensure_pki(tmp_path)
    identity = controller_run.Identity("platykus-system", "metrics-server")
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
    assert [r.name for r in controller_run.runners()] == ["metrics-server", "prometheus"]
    monkeypatch.setenv("PLATYKUS_LAB_CONTROLLERS", "none")
    assert controller_run.runners() == []
    monkeypatch.setenv("PLATYKUS_LAB_CONTROLLERS", "grafana")
    with pytest.raises(LabConfigError, match="grafana"):
        controller_run.runners()


class _StateLab:
    """Just what `_ensure_running` reads of a lab: its home and state.json."""

    def __init__(self, home: Path):
        self.home, self.name, self.state_data = home, "unit", {}

    def state(self) -> dict:
        return json.loads(json.dumps(self.state_data))

    def _save_state(self, state: dict) -> None:
        self.state_data = state


def _restart_decision(tmp_path, monkeypatch, identity, api_restarted: bool, upstream: str) -> list[str]:
    """What `_ensure_running` does to a healthy running controller: [] (kept) or the calls it made."""
    lab, calls = _StateLab(tmp_path), []
    spec = controller_build.BuildSpec(name="unit-ctl", version="v1", way="python", source="platykus_lab.unit")
    runner = controller_run.Runner(
        name="unit-ctl", identity=identity, ports=(), args=lambda _ctx: ["--flag"], health=lambda _ctx: None
    )
    ctx = controller_run.Context(lab, spec, {}, {"apiserver": 6443}, None)
    lab.state_data = {
        controller_run.STARTED_KEY: {
            "unit-ctl": {"pid": 4242, "command": controller_run.command(ctx, runner), "upstream": upstream}
        }
    }
    monkeypatch.setattr(controller_run, "pid", lambda _lab, _name: 4242)
    monkeypatch.setattr(controller_run, "kubectl_apply", lambda _lab, _objects: calls.append("apply"))
    monkeypatch.setattr(controller_run, "_stop_pid", lambda _lab, _name: calls.append("stop"))
    monkeypatch.setattr(controller_run, "_spawn", lambda _ctx, _runner: calls.append("spawn") or 4343)
    monkeypatch.setattr(controller_run, "_wait_healthy", lambda *_args: None)
    controller_run._ensure_running(ctx, runner, 1.0, lambda _msg: None, api_restarted)
    return [call for call in calls if call != "apply"]


@pytest.mark.parametrize("api_restarted, upstream", [(True, "https://127.0.0.1:6443"), (False, "https://127.0.0.1:1")])
def test_a_controller_that_never_calls_the_api_server_stays_when_it_restarts_or_moves(
    tmp_path, monkeypatch, api_restarted, upstream
):
    # The lab's AWS once went down with the API server: every tenant's IAM user and key with it.
    assert _restart_decision(tmp_path, monkeypatch, None, api_restarted, upstream) == []


@pytest.mark.parametrize("api_restarted, upstream", [(True, "https://127.0.0.1:6443"), (False, "https://127.0.0.1:1")])
def test_a_client_of_the_api_server_is_restarted_when_it_restarts_or_moves(
    tmp_path, monkeypatch, api_restarted, upstream
):
    identity = controller_run.Identity("platykus-system", "unit-ctl")
    assert _restart_decision(tmp_path, monkeypatch, identity, api_restarted, upstream) == ["stop", "spawn"]


def test_every_controller_without_an_identity_is_no_client_of_the_api_server(monkeypatch):
    monkeypatch.delenv("PLATYKUS_LAB_CONTROLLERS", raising=False)
    kept = {runner.name for runner in controller_run.runners() if not controller_run.dials_api(runner)}
    assert {"aws", "postgresql", "mariadb", "redis", "kafka", "alertmanager"} <= kept
    assert "external-dns" not in kept
