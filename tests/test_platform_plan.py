"""Plan mode: the plan of every shipped inventory, made without any API call, against golden files.

Regenerate the golden files after a deliberate change with PLATYKUS_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
CATALOG = yaml.safe_load((ROOT / "catalog" / "services.yml").read_text())
AGGREGATE_LABEL = re.compile(r"^rbac\.authorization\.k8s\.io/aggregate-to-(admin|edit|view)$")
INVENTORIES = ["lab", "generic", "aws"]


def make_plan(inventory: str, out: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    path = out / f"plan-{inventory}.yml"
    env = dict(
        os.environ,
        # Nothing to talk to: a plan that made any API call would fail.
        K8S_AUTH_KUBECONFIG=str(out / "no-such-kubeconfig"),
        KUBECONFIG=str(out / "no-such-kubeconfig"),
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
    )
    proc = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "ansible-playbook"),
            "-i",
            str(ROOT / "inventories" / inventory),
            str(ROOT / "site.yml"),
            "-e",
            "platykus_plan=true",
            "-e",
            f"platykus_plan_path={path}",
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    return proc, path


@pytest.fixture(scope="module", params=INVENTORIES)
def plan(request, tmp_path_factory):
    proc, path = make_plan(request.param, tmp_path_factory.mktemp(f"plan-{request.param}"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return request.param, proc, path


def test_plan_matches_golden(plan):
    inventory, _, path = plan
    golden = GOLDEN / f"plan-{inventory}.yml"
    text = path.read_text()
    if os.environ.get("PLATYKUS_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert golden.exists(), f"{golden} is missing: run with PLATYKUS_UPDATE_GOLDEN=1"
    assert "{{" not in text and "{%" not in text, "the plan holds an unrendered template (a templated dict key?)"
    expected = golden.read_text()
    diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(golden), "plan"))
    assert text == expected, f"the plan of {inventory} changed (PLATYKUS_UPDATE_GOLDEN=1 to accept):\n{diff[:6000]}"


def test_plan_is_printed_and_touches_nothing(plan):
    inventory, proc, path = plan
    assert "Write the plan" in proc.stdout
    assert f"written to {path}" in proc.stdout.replace("\n        ", " ")
    # Every task that would reach the API server was skipped.
    for task in (
        "Check that the API server answers",
        "Install or upgrade the releases",
        "Apply the stage's objects",
        "Apply the platform namespaces and PriorityClasses",
        "Uninstall switched-off services",
    ):
        for block in proc.stdout.split("TASK [")[1:]:
            if block.split("]")[0].endswith(task):
                assert not re.search(r"^(ok|changed|failed|fatal):", block, re.M), f"{task} ran in plan mode"


def test_plan_lists_releases_in_stage_order(plan):
    inventory, _, path = plan
    document = yaml.safe_load(path.read_text())
    stages = [stage["stage"] for stage in document["stages"]]
    assert stages == CATALOG["platykus_catalog_stages"]
    for stage in document["stages"]:
        for release in stage["releases"]:
            entry = CATALOG["platykus_catalog_services"][release["service"]]
            assert entry["stage"] == stage["stage"]
            assert inventory in entry["providers"]
            assert {"chart", "repository", "version", "namespace", "values"} <= set(release)
            assert not release["repository"].startswith("http://127.0.0.1")


def test_plan_objects_aggregate_no_cluster_roles(plan):
    _, _, path = plan
    document = yaml.safe_load(path.read_text())
    for stage in document["stages"]:
        for obj in stage["objects"]:
            labels = obj["metadata"].get("labels") or {}
            assert not (obj["kind"] == "ClusterRole" and any(AGGREGATE_LABEL.match(k) for k in labels)), obj


@pytest.mark.parametrize(
    "provider_services",
    [
        (
            "aws",
            {
                "aws-load-balancer-controller",
                "external-dns",
                "cert-manager",
                "aws-ebs-csi-driver",
                "karpenter",
                "metrics-server",
                "kube-prometheus-stack",
                "loki",
                "external-secrets",
                "cloudnative-pg",
                "mysql-operator",
                "redis-operator",
                "strimzi-kafka-operator",
            },
        ),
        (
            "generic",
            {
                "ingress-nginx",
                "cert-manager",
                "local-path-provisioner",
                "minio",
                "metrics-server",
                "kube-prometheus-stack",
                "loki",
                "external-secrets",
                "cloudnative-pg",
                "mysql-operator",
                "redis-operator",
                "strimzi-kafka-operator",
            },
        ),
    ],
)
def test_shipped_inventories_install_the_required_services(provider_services):
    inventory, required = provider_services
    golden = yaml.safe_load((GOLDEN / f"plan-{inventory}.yml").read_text())
    installed = {release["service"] for stage in golden["stages"] for release in stage["releases"]}
    assert required <= installed, required - installed


def test_catalog_is_pure_data():
    # Ansible would template Jinja in the catalog and expand anchors before service_plan sees them;
    # settings are named as ${name} and filled by the plan instead.
    text = (ROOT / "catalog" / "services.yml").read_text()
    assert "{{" not in text and "{%" not in text
    tokens = {type(token).__name__ for token in yaml.scan(text)}
    assert not tokens & {"AnchorToken", "AliasToken", "TagToken"}, tokens
    data = json.dumps([CATALOG["platykus_catalog_services"], CATALOG["platykus_catalog_parameters"]])
    named = set(re.findall(r"(?<!\$)\$\{([a-z_][a-z0-9_]*)\}", data))
    assert named <= set(CATALOG["platykus_catalog_parameters"]), named - set(CATALOG["platykus_catalog_parameters"])


def test_every_service_pins_an_exact_version_and_priority_class():
    for name, spec in CATALOG["platykus_catalog_services"].items():
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", str(spec["version"])), name
        assert spec["priority_class"].startswith("platykus-platform-"), name
        assert spec.get("priority_class_values"), name
        assert spec["pod_security"] in ("restricted", "baseline", "privileged"), name


def test_unknown_service_switch_fails_before_any_change(tmp_path):
    proc, _ = make_plan("lab", tmp_path, "-e", '{"platykus_services_disabled": ["mino"]}')
    assert proc.returncode != 0
    assert "platykus_services_disabled: 'mino' is not a catalog service" in proc.stdout + proc.stderr


def test_aws_autoscaler_choice_swaps_the_releases(tmp_path):
    proc, path = make_plan(
        "aws", tmp_path, "-e", "platykus_autoscaler=cluster-autoscaler", "-e", "platform_plan_print=false"
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    stage = next(s for s in yaml.safe_load(path.read_text())["stages"] if s["stage"] == "autoscaling")
    assert [release["release"] for release in stage["releases"]] == ["metrics-server", "cluster-autoscaler"]
    assert stage["uninstall"] == [{"release": "karpenter", "namespace": "platykus-system"}]
    assert stage["objects"] == []
    values = stage["releases"][1]["values"]
    assert values["rbac"]["serviceAccount"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/platykus-aws-cluster-autoscaler"
    }


def _external_dns_values(plan: dict) -> dict:
    return next(r for s in plan["stages"] for r in s["releases"] if r["service"] == "external-dns")["values"]


def test_aws_external_dns_excludes_every_tenant_domain(tmp_path):
    # Each tenant's domain is a delegated zone of its own (docs/aws.md, "Tenant DNS"): a record for it in
    # the platform's zone would be shadowed, so the platform's external-dns must skip it.
    tenants = sorted(p.stem for p in (ROOT / "inventories" / "aws" / "tenants").glob("*.yml"))
    assert tenants
    values = _external_dns_values(yaml.safe_load((GOLDEN / "plan-aws.yml").read_text()))
    assert values["excludeDomains"] == [f"{t}.platykus.example.com" for t in tenants]
    assert values["domainFilters"] == ["platykus.example.com"]
    # Without tenant zones every name lives in the platform's zone: nothing is excluded.
    proc, path = make_plan("aws", tmp_path, "-e", "platykus_aws_tenant_zones=false", "-e", "platform_plan_print=false")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert _external_dns_values(yaml.safe_load(path.read_text()))["excludeDomains"] == []


def test_aws_preflight_names_the_missing_setting(tmp_path):
    proc, _ = make_plan("aws", tmp_path, "-e", "platykus_aws_region=nowhere")
    assert proc.returncode != 0
    assert "The aws provider needs platykus_aws_region" in proc.stdout
