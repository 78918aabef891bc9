"""Prometheus and Alertmanager on the lab: every target up, and a tenant's quota alert reaching
that tenant's receiver only.

The observability stage (site.yml --tags observability) writes the platform's tenant alert rules
and Alertmanager's routes from the tenant specs; the lab's prometheus-operator stand-in loads them.
The receivers are webhook servers of this test on 127.0.0.1. Assertions are on what Prometheus and
Alertmanager hold and what the receivers got.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from conftest import LAB_INVENTORY, wait_for

pytestmark = pytest.mark.lab

# Loki and Alloy stay stand-in charts on the lab; this test needs no chart repository.
NO_CHARTS = {"platykus_services_disabled": ["loki", "alloy", "opencost"]}
FULL_NAMESPACE = "acme-dev"


class Receivers:
    """Webhook receivers on 127.0.0.1: what Alertmanager posted, by path (/acme, /globex)."""

    def __init__(self) -> None:
        self.posts: dict[str, list[dict]] = {}
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.setdefault(self.path, []).append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def alerts(self, path: str) -> list[dict]:
        return [alert for post in self.posts.get(path, []) for alert in post["alerts"]]


def controller_url(lab, name: str) -> str:
    port = lab.lab.state()["controller_ports"][name]["web"]
    return f"http://127.0.0.1:{port}"


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def tenant_specs(receivers: Receivers) -> list[dict]:
    specs = [yaml.safe_load(p.read_text()) for p in sorted((LAB_INVENTORY / "tenants").glob("*.yml"))]
    for spec in specs:
        if spec["name"] in ("acme", "globex"):
            spec["alerts"] = {"webhook_url": receivers.url(f"/{spec['name']}")}
    return specs


@pytest.fixture(scope="module")
def configured(lab):
    receivers = Receivers()
    onboarding = lab.playbook("playbooks/tenant-onboarding.yml")
    assert onboarding.ok, onboarding.output[-3000:]
    extra = {
        **NO_CHARTS,
        "platform_service_alert_tenants": tenant_specs(receivers),
        "platform_service_alert_for": {"quota": "0s", "pending": "10m", "hpa": "15m"},
        "platform_service_alert_timing": {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"},
    }
    run = lab.playbook("site.yml", "--tags", "observability", extra_vars=extra)
    assert run.ok, run.output[-3000:]
    yield receivers
    lab.kubectl("delete", "configmap", "-n", FULL_NAMESPACE, "-l", "platykus.io/alert-test", check=False)
    receivers.server.shutdown()


def test_prometheus_has_every_target_up(lab):
    url = controller_url(lab, "prometheus")

    def targets():
        active = get(f"{url}/api/v1/targets")["data"]["activeTargets"]
        return active if active and all(t["health"] == "up" for t in active) else None

    active = wait_for("every Prometheus target up", targets, timeout=120)
    jobs = {t["labels"]["job"] for t in active}
    assert {
        "apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok-nodes",
        "kube-state-metrics",
        "alertmanager",
    } <= jobs


def test_the_stage_loads_the_tenant_rules(lab, configured):
    url = controller_url(lab, "prometheus")
    names = wait_for(
        "the tenant rules in Prometheus",
        lambda: {r["name"] for g in get(f"{url}/api/v1/rules")["data"]["groups"] for r in g["rules"]} or None,
    )
    assert {
        "PlatykusTenantQuotaNearlyFull",
        "PlatykusTenantPodPending",
        "PlatykusTenantHPAAtMaximum",
        "PlatykusTenantBudget",
    } <= names


def test_a_full_quota_alerts_that_tenant_only(lab, configured):
    quota = lab.get_json("resourcequota", "tenant-quota", "-n", FULL_NAMESPACE)
    hard, used = int(quota["status"]["hard"]["count/configmaps"]), int(quota["status"]["used"]["count/configmaps"])
    fill = int(hard * 0.95) - used
    lab.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": f"fill-{i}",
                    "namespace": FULL_NAMESPACE,
                    "labels": {"platykus.io/alert-test": "1"},
                },
            }
            for i in range(fill)
        ]
    )
    alerts = wait_for(
        "the quota alert at acme's receiver",
        lambda: [
            a
            for a in configured.alerts("/acme")
            if a["labels"]["alertname"] == "PlatykusTenantQuotaNearlyFull"
            and a["labels"].get("resource") == "count/configmaps"
        ],
    )
    assert alerts[0]["labels"]["tenant"] == "acme" and alerts[0]["labels"]["namespace"] == FULL_NAMESPACE
    am = get(
        f"{controller_url(lab, 'alertmanager')}/api/v2/alerts?filter=alertname%3D%22PlatykusTenantQuotaNearlyFull%22"
    )
    assert any(a["labels"]["tenant"] == "acme" and "tenant-acme" in [r["name"] for r in a["receivers"]] for a in am)
    assert not [a for a in configured.alerts("/globex") if a["labels"].get("tenant") != "globex"]
