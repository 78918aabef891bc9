"""The service catalog -> release plan logic (no Ansible, no cluster)."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._platform.services import (
    deep_merge,
    namespace_pod_security,
    resolve_parameters,
    service_plan,
    stage_plan,
    substitute,
)

STAGES = ["base", "certificates", "storage", "observability"]
AWS = {"platykus_aws_account_id": "111122223333"}


def catalog() -> dict:
    return {
        "prom": {
            "stage": "observability",
            "providers": ["aws", "lab"],
            "chart": "prom",
            "repository": "https://prom.example",
            "version": "1.0.0",
            "namespace": "mon",
            "pod_security": "privileged",
            "priority_class": "high",
            "priority_class_values": ["server.priorityClassName"],
            "values": {"server": {"retention": "1d", "replicas": 2}},
            "provider_values": {"lab": {"server": {"replicas": 1}}},
        },
        "certs": {
            "stage": "certificates",
            "providers": ["aws", "lab"],
            "chart": "certs",
            "repository": "oci://registry.example/charts",
            "version": "v2.0.0",
            "namespace": "sys",
            "priority_class": "critical",
            "irsa": {
                "role": "c-certs",
                "service_account_values": ["serviceAccount.annotations"],
                "policy": {"Version": "1"},
            },
            "objects": [
                {
                    "providers": ["lab"],
                    "definition": {"apiVersion": "v1", "kind": "Issuer", "metadata": {"name": "ca"}},
                },
                {
                    "namespaced": True,
                    "definition": {"apiVersion": "v1", "kind": "Certificate", "metadata": {"name": "root"}},
                },
            ],
        },
        "disk": {
            "stage": "storage",
            "providers": ["aws"],
            "chart": "disk",
            "repository": "https://disk.example",
            "version": "3.0.0",
            "namespace": "sys",
        },
    }


def by_service(plan: list[dict]) -> dict:
    return {entry["service"]: entry for entry in plan}


@pytest.mark.parametrize(
    ("provider", "expected"),
    [("lab", ["certs", "prom"]), ("aws", ["certs", "disk", "prom"]), ("generic", [])],
)
def test_selects_the_provider_in_stage_order(provider, expected):
    plan = service_plan(catalog(), STAGES, provider, settings=AWS)
    assert [entry["service"] for entry in plan] == expected


def test_values_merge_catalog_provider_priority_and_override():
    plan = by_service(
        service_plan(catalog(), STAGES, "lab", overrides={"prom": {"values": {"server": {"retention": "7d"}}}})
    )
    assert plan["prom"]["values"] == {"server": {"retention": "7d", "replicas": 1, "priorityClassName": "high"}}


@pytest.mark.parametrize(
    ("disabled", "overrides", "state"),
    [
        ([], {}, "present"),
        (["prom"], {}, "absent"),
        ([], {"prom": {"enabled": False}}, "absent"),
        ([], {"prom": {"enabled": "false"}}, "absent"),
        (["prom"], {"prom": {"enabled": True}}, "absent"),
    ],
)
def test_switching_off(disabled, overrides, state):
    plan = by_service(service_plan(catalog(), STAGES, "lab", disabled=disabled, overrides=overrides))
    assert plan["prom"]["state"] == state


def test_catalog_enabled_expression_result():
    entries = catalog()
    entries["prom"]["enabled"] = "False"
    assert by_service(service_plan(entries, STAGES, "lab"))["prom"]["state"] == "absent"


def test_version_and_repository_override_and_mirror():
    plan = by_service(service_plan(catalog(), STAGES, "lab", overrides={"prom": {"version": "1.0.1"}}))
    assert plan["prom"]["version"] == "1.0.1"
    assert (plan["prom"]["chart_ref"], plan["prom"]["chart_repo_url"]) == ("prom", "https://prom.example")
    assert (plan["certs"]["chart_ref"], plan["certs"]["chart_repo_url"]) == (
        "oci://registry.example/charts/certs",
        None,
    )
    mirrored = by_service(service_plan(catalog(), STAGES, "lab", mirror="http://127.0.0.1:1"))
    assert (mirrored["certs"]["chart_ref"], mirrored["certs"]["chart_repo_url"]) == ("certs", "http://127.0.0.1:1")
    assert mirrored["certs"]["repository"] == "oci://registry.example/charts"


def test_irsa_annotation_on_aws_only():
    aws = by_service(service_plan(catalog(), STAGES, "aws", settings=AWS))
    assert aws["certs"]["values"]["serviceAccount"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/c-certs"
    }
    assert aws["certs"]["irsa"]["policy"] == {"Version": "1"}
    lab = by_service(service_plan(catalog(), STAGES, "lab"))
    assert "serviceAccount" not in lab["certs"]["values"] and "irsa" not in lab["certs"]


def test_irsa_needs_the_account():
    with pytest.raises(PlatykusError, match="platykus_aws_account_id is empty"):
        service_plan(catalog(), STAGES, "aws")


def test_objects_are_labelled_and_narrowed():
    lab = by_service(service_plan(catalog(), STAGES, "lab"))
    assert [obj["kind"] for obj in lab["certs"]["objects"]] == ["Issuer", "Certificate"]
    assert lab["certs"]["objects"][1]["metadata"]["namespace"] == "sys"
    assert lab["certs"]["objects"][0]["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "platykus",
        "platykus.io/service": "certs",
    }
    aws = by_service(service_plan(catalog(), STAGES, "aws", settings=AWS))
    assert [obj["kind"] for obj in aws["certs"]["objects"]] == ["Certificate"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"disabled": ["promm"]}, "platykus_services_disabled: 'promm' is not a catalog service"),
        ({"overrides": {"promm": {}}}, "platykus_service_overrides: 'promm' is not a catalog service"),
        ({"overrides": {"prom": {"vales": {}}}}, "unknown keys vales"),
        ({"overrides": {"prom": {"values": []}}}, "values must be a dict"),
    ],
)
def test_bad_switches_fail_with_the_fix(kwargs, message):
    with pytest.raises(PlatykusError, match=message):
        service_plan(catalog(), STAGES, "lab", **kwargs)


def test_bad_catalog_entry():
    entries = catalog()
    entries["prom"]["stage"] = "nowhere"
    with pytest.raises(PlatykusError, match="stage 'nowhere' is not in the stages"):
        service_plan(entries, STAGES, "lab")


def test_namespace_pod_security_takes_the_most_permissive():
    plan = service_plan(catalog(), STAGES, "lab")
    levels = namespace_pod_security(["sys", "ingress"], {"ingress": "baseline"}, "restricted", plan)
    assert levels == {"sys": "restricted", "ingress": "baseline", "mon": "privileged"}
    plan = service_plan(catalog(), STAGES, "lab", disabled=["prom"])
    assert "mon" not in namespace_pod_security(["sys"], {}, "restricted", plan)
    with pytest.raises(PlatykusError):
        namespace_pod_security(["sys"], {"sys": "open"}, "restricted", [])


def test_stage_plan_is_readable():
    plan = service_plan(catalog(), STAGES, "lab", disabled=["prom"])
    assert stage_plan(plan, "observability") == {
        "stage": "observability",
        "releases": [],
        "uninstall": [{"release": "prom", "namespace": "mon"}],
        "objects": [],
    }
    certificates = stage_plan(plan, "certificates")
    assert [release["release"] for release in certificates["releases"]] == ["certs"]
    assert "chart_ref" not in certificates["releases"][0] and len(certificates["objects"]) == 2


def test_deep_merge_replaces_lists_and_copies():
    base = {"a": {"b": [1, 2], "c": 1}}
    merged = deep_merge(base, {"a": {"b": [3]}})
    assert merged == {"a": {"b": [3], "c": 1}} and base == {"a": {"b": [1, 2], "c": 1}}


# -- inventory settings named in the catalog ---------------------------------------------------------
PARAMETERS = {
    "platykus_cluster_name": None,
    "platykus_eks_cluster_name": "${platykus_cluster_name}",
    "platykus_autoscaler": "karpenter",
    "platykus_cpu_limit": "1000",
}


@pytest.mark.parametrize(
    ("inventory", "expected"),
    [
        (
            {"platykus_cluster_name": "c1"},
            {
                "platykus_cluster_name": "c1",
                "platykus_eks_cluster_name": "c1",
                "platykus_autoscaler": "karpenter",
                "platykus_cpu_limit": "1000",
            },
        ),
        # Empty counts as unset; a set value wins; unrelated variables are not read.
        (
            {"platykus_cluster_name": "c1", "platykus_eks_cluster_name": "", "platykus_cpu_limit": 8, "other": 1},
            {
                "platykus_cluster_name": "c1",
                "platykus_eks_cluster_name": "c1",
                "platykus_autoscaler": "karpenter",
                "platykus_cpu_limit": 8,
            },
        ),
        (
            {
                "platykus_cluster_name": "c1",
                "platykus_eks_cluster_name": "eks",
                "platykus_autoscaler": "cluster-autoscaler",
            },
            {
                "platykus_cluster_name": "c1",
                "platykus_eks_cluster_name": "eks",
                "platykus_autoscaler": "cluster-autoscaler",
                "platykus_cpu_limit": "1000",
            },
        ),
    ],
)
def test_parameters_take_the_inventory_value_or_the_default(inventory, expected):
    assert resolve_parameters(PARAMETERS, inventory) == expected


@pytest.mark.parametrize("inventory", [{}, {"platykus_cluster_name": ""}, {"platykus_cluster_name": None}])
def test_a_parameter_without_default_must_be_set(inventory):
    with pytest.raises(PlatykusError, match="The service catalog needs platykus_cluster_name: set it in the inventory"):
        resolve_parameters(PARAMETERS, inventory)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("${name}-loki", "c1-loki"),
        ("arn:${name}:${count}", "arn:c1:3"),
        ("${count}", 3),  # a whole placeholder keeps the setting's type
        ("$${name} and ${name}", "${name} and c1"),  # $$ escapes
        ("${ENV_VAR} $HOME", "${ENV_VAR} $HOME"),  # chart values' own variables pass through
        ({"${name}": ["${name}", 1, True]}, {"${name}": ["c1", 1, True]}),  # keys are data
    ],
)
def test_substitute(data, expected):
    assert substitute(data, {"name": "c1", "count": 3}, "x") == expected


def test_substitute_names_the_path_of_an_unknown_parameter():
    with pytest.raises(
        PlatykusError, match=r"x\.values\.a\[1\]: \$\{nmae\} is not one of platykus_catalog_parameters \(name\)"
    ):
        substitute({"values": {"a": ["ok", "${nmae}"]}}, {"name": "c1"}, "x")


def test_settings_fill_services_before_validation():
    entries = catalog()
    entries["prom"]["namespace"] = "${ns}"
    entries["prom"]["values"]["server"]["cluster"] = "${platykus_cluster_name}"
    settings = {"ns": "platykus-monitoring", "platykus_cluster_name": "c1"}
    prom = by_service(service_plan(entries, STAGES, "lab", settings=settings))["prom"]
    assert prom["namespace"] == "platykus-monitoring"
    assert prom["values"]["server"]["cluster"] == "c1"
    with pytest.raises(PlatykusError, match=r"platykus_catalog_services\.prom\.namespace: \$\{ns\}"):
        service_plan(entries, STAGES, "lab", settings={"platykus_cluster_name": "c1"})


@pytest.mark.parametrize(
    ("autoscaler", "when", "state"),
    [
        ("karpenter", {"platykus_autoscaler": "karpenter"}, "present"),
        ("cluster-autoscaler", {"platykus_autoscaler": "karpenter"}, "absent"),
        ("cluster-autoscaler", {"platykus_autoscaler": ["karpenter", "cluster-autoscaler"]}, "present"),
    ],
)
def test_enabled_when_compares_settings(autoscaler, when, state):
    entries = catalog()
    entries["prom"]["enabled_when"] = when
    plan = by_service(service_plan(entries, STAGES, "lab", settings={"platykus_autoscaler": autoscaler}))
    assert plan["prom"]["state"] == state


def test_enabled_when_names_a_declared_parameter():
    entries = catalog()
    entries["prom"]["enabled_when"] = {"platykus_autoscalr": "karpenter"}
    with pytest.raises(PlatykusError, match="enabled_when names 'platykus_autoscalr'"):
        service_plan(entries, STAGES, "lab", settings={"platykus_autoscaler": "karpenter"})
