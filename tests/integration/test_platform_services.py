"""The platform services on the lab: stand-in charts served from a local repository, installed in order.

One converge of site.yml with every lab service, then: install order, the values each release got
(recorded by the stand-ins) against the plan, objects, pod security, aggregated ClusterRoles, a rerun
that changes nothing, a pin bump that upgrades exactly one release and a switch-off that uninstalls one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from standin_charts import ChartServer, build_repository  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent
LAB_SERVICES = ROOT / "inventories" / "lab" / "group_vars" / "all" / "services.yml"
LEVELS = ["restricted", "baseline", "privileged"]
AGGREGATE_LABEL = re.compile(r"^rbac\.authorization\.k8s\.io/aggregate-to-(admin|edit|view)$")
# The pin bump test moves this service to a version only the stand-in repository has.
BUMP_SERVICE, BUMP_VERSION = "loki", "6.45.3"

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@dataclass
class Converged:
    mirror: str
    plan: dict
    releases: list[dict]  # the plan's releases, in install order
    installed: dict[str, dict]  # helm list, right after the first converge


def helm_list(lab) -> dict[str, dict]:
    out = subprocess.run(
        [str(lab.lab.binaries / "helm"), "list", "--all-namespaces", "--all", "-o", "json"],
        env=lab.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {release["name"]: release for release in json.loads(out or "[]")}


def sortable(updated: str) -> str:
    """'2026-11-25 19:05:11.7020951 +0000 UTC' -> a string that sorts in time (all UTC)."""
    stamp, _, fraction = updated.split(" +")[0].partition(".")
    return f"{stamp}.{fraction.ljust(9, '0')}"


def lab_overrides(**extra: dict) -> dict:
    """The lab inventory's overrides plus ``extra`` (extra vars replace a variable, they do not merge)."""
    overrides = (yaml.safe_load(LAB_SERVICES.read_text()) or {}).get("platykus_service_overrides") or {}
    return {**overrides, **extra}


@pytest.fixture(scope="module")
def mirror(lab, tmp_path_factory):
    repo = build_repository(
        tmp_path_factory.mktemp("charts"), helm=str(lab.lab.binaries / "helm"), extra=[(BUMP_SERVICE, BUMP_VERSION)]
    )
    with ChartServer(repo) as server:
        yield server.url


@pytest.fixture(scope="module")
def converged(lab, mirror, tmp_path_factory) -> Converged:
    plan_path = tmp_path_factory.mktemp("plan") / "plan.yml"
    planned = lab.playbook(
        "site.yml",
        extra_vars={
            "platykus_chart_mirror": mirror,
            "platykus_plan": True,
            "platykus_plan_path": str(plan_path),
            "platform_plan_print": False,
        },
    )
    assert planned.ok, planned.output[-4000:]
    run = lab.playbook("site.yml", extra_vars={"platykus_chart_mirror": mirror})
    assert run.ok, run.output[-4000:]
    plan = yaml.safe_load(plan_path.read_text())
    releases = [release for stage in plan["stages"] for release in stage["releases"]]
    return Converged(mirror, plan, releases, helm_list(lab))


def test_every_release_is_deployed_at_its_pin(converged):
    for release in converged.releases:
        installed = converged.installed.get(release["release"])
        assert installed, f"{release['release']} is not installed"
        assert installed["status"] == "deployed"
        assert installed["namespace"] == release["namespace"]
        assert installed["chart"] == f"{release['chart']}-{release['version']}"


def test_releases_are_installed_in_stage_order(converged):
    planned = [release["release"] for release in converged.releases]
    by_time = sorted(planned, key=lambda name: sortable(converged.installed[name]["updated"]))
    assert by_time == planned


def test_each_release_got_the_planned_values(lab, converged):
    for release in converged.releases:
        recorded = lab.get_json("configmap", "-n", release["namespace"], f"{release['release']}-platykus-values")
        assert recorded["data"]["version"] == str(release["version"])
        assert (yaml.safe_load(recorded["data"]["values.yaml"]) or {}) == release["values"], release["release"]


def test_values_merge_catalog_provider_and_inventory(converged):
    values = {release["service"]: release["values"] for release in converged.releases}
    # catalog default, lab provider value, inventory override, catalog priority class
    assert values["minio"]["existingSecret"] == "platykus-minio-root"
    assert values["minio"]["persistence"] == {"enabled": True, "storageClass": "local-path", "size": "1Gi"}
    assert values["minio"]["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"}}
    assert values["minio"]["priorityClassName"] == "platykus-platform-high"
    assert values["ingress-nginx"]["controller"]["service"]["type"] == "NodePort"
    assert values["cert-manager"]["global"]["priorityClassName"] == "platykus-platform-critical"


def test_stage_objects_are_applied(lab, converged):
    issuer = lab.get_json("clusterissuer", "platykus-default")
    assert issuer["spec"] == {"ca": {"secretName": "platykus-ca"}}
    # The platform made the CA it signs with (module platform_ca; tests/integration/test_lab_platform_ca.py).
    ca_secret = lab.get_json("secret", "-n", "platykus-system", "platykus-ca")
    assert ca_secret["type"] == "kubernetes.io/tls"
    assert ca_secret["metadata"]["labels"]["platykus.io/platform-ca"] == "true"
    storage_class = lab.get_json("storageclass", "local-path")
    assert storage_class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert storage_class["provisioner"] == "rancher.io/local-path"
    for obj in (issuer, storage_class):
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "platykus"


def test_platform_pods_run_with_their_priority_class(lab, converged):
    classes = {pc["metadata"]["name"]: pc["value"] for pc in lab.get_json("priorityclass")["items"]}
    for release in converged.releases:
        assert release["priority_class"] in classes
        deployment = lab.get_json("deployment", "-n", release["namespace"], f"{release['release']}-standin")
        assert deployment["spec"]["template"]["spec"]["priorityClassName"] == release["priority_class"]
        assert deployment["status"].get("readyReplicas") == 1, release["release"]


def test_namespaces_carry_the_pod_security_their_services_need(lab, converged):
    planned = {
        obj["metadata"]["name"]: obj["metadata"]["labels"]
        for stage in converged.plan["stages"]
        for obj in stage["objects"]
        if obj["kind"] == "Namespace"
    }
    for release in converged.releases:
        assert release["namespace"] in planned
        labels = lab.get_json("namespace", release["namespace"])["metadata"]["labels"]
        level = labels["pod-security.kubernetes.io/enforce"]
        assert level == planned[release["namespace"]]["pod-security.kubernetes.io/enforce"]
        assert LEVELS.index(level) >= LEVELS.index(release["pod_security"]), release["release"]
        assert labels["platykus.io/platform"] == "true"


def test_only_allow_listed_cluster_roles_aggregate(lab, converged):
    allowed = {release["release"]: set(release["aggregate_cluster_roles"]) for release in converged.releases}
    offending = []
    for role in lab.get_json("clusterrole")["items"]:
        metadata = role["metadata"]
        aggregates = [k for k, v in (metadata.get("labels") or {}).items() if AGGREGATE_LABEL.match(k) and v == "true"]
        release = (metadata.get("annotations") or {}).get("meta.helm.sh/release-name")
        ours = release in allowed or (metadata.get("labels") or {}).get("app.kubernetes.io/managed-by") == "platykus"
        if aggregates and ours and metadata["name"] not in allowed.get(release, set()):
            offending.append(f"{metadata['name']} ({release}: {', '.join(aggregates)})")
    assert not offending, f"ClusterRoles aggregate into admin/edit/view without being allow-listed: {offending}"
    # The catalog turned external-secrets' aggregation off on purpose.
    assert lab.kubectl("get", "clusterrole", "external-secrets-edit", check=False).returncode != 0


def test_rerun_changes_nothing(lab, converged):
    run = lab.playbook("site.yml", extra_vars={"platykus_chart_mirror": converged.mirror})
    assert run.ok, run.output[-4000:]
    assert run.changed == 0, run.output[-6000:]
    after = helm_list(lab)
    for release in converged.releases:
        assert after[release["release"]]["revision"] == converged.installed[release["release"]]["revision"]


def test_pin_bump_upgrades_exactly_that_release(lab, converged):
    before = helm_list(lab)
    run = lab.playbook(
        "site.yml",
        "--tags",
        "observability",
        extra_vars={
            "platykus_chart_mirror": converged.mirror,
            "platykus_service_overrides": lab_overrides(**{BUMP_SERVICE: {"version": BUMP_VERSION}}),
        },
    )
    assert run.ok, run.output[-4000:]
    assert run.changed == 1, run.output[-6000:]
    after = helm_list(lab)
    bumped = [name for name in before if after[name]["revision"] != before[name]["revision"]]
    assert bumped == [BUMP_SERVICE]
    assert after[BUMP_SERVICE]["chart"] == f"{BUMP_SERVICE}-{BUMP_VERSION}"
    assert int(after[BUMP_SERVICE]["revision"]) == int(before[BUMP_SERVICE]["revision"]) + 1


def test_switching_a_service_off_uninstalls_it(lab, converged):
    run = lab.playbook(
        "site.yml",
        "--tags",
        "storage",
        extra_vars={"platykus_chart_mirror": converged.mirror, "platykus_services_disabled": ["minio"]},
    )
    assert run.ok, run.output[-4000:]
    after = helm_list(lab)
    assert "minio" not in after
    assert "local-path-provisioner" in after
    assert (
        lab.kubectl("get", "configmap", "-n", "platykus-storage", "minio-platykus-values", check=False).returncode != 0
    )
    assert lab.kubectl("get", "deployment", "-n", "platykus-storage", "minio-standin", check=False).returncode != 0
