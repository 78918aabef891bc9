# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import format_quantity
from ansible_collections.platykus.platform.plugins.module_utils._tenants.plans import validate_plans
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import select_tenants, validate_tenants


def _set(path, value):
    """A mutation setting spec[path...] = value (a missing value deletes the key)."""

    def mutate(spec):
        target = spec
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


_DELETE = object()

BAD_SPECS = [
    # (case id, mutation, field named in the message, part of the fix named in the message)
    ("name-uppercase", _set(["name"], "Acme"), "tenants[Acme].name", "DNS-1123"),
    ("name-underscore", _set(["name"], "ac_me"), "tenants[ac_me].name", "DNS-1123"),
    ("name-too-long", _set(["name"], "a" * 41), ".name", "at most 40"),
    ("name-missing", _set(["name"], _DELETE), "tenants[0].name", "is required"),
    ("name-not-string", _set(["name"], 42), "tenants[0].name", "not a name"),
    ("name-default", _set(["name"], "default"), "tenants[default].name", "reserved"),
    ("name-kube-prefix", _set(["name"], "kube-acme"), "tenants[kube-acme].name", "reserved"),
    ("name-platykus-prefix", _set(["name"], "platykus-acme"), "tenants[platykus-acme].name", "reserved"),
    ("name-openshift-prefix", _set(["name"], "openshift-x"), "tenants[openshift-x].name", "reserved"),
    ("name-platform-namespace", _set(["name"], "monitoring"), "tenants[monitoring].name", "platform namespace"),
    ("unknown-key", _set(["envirnoments"], ["dev"]), "tenants[acme].envirnoments", "did you mean environments"),
    ("unknown-plan", _set(["plan"], "xl"), "tenants[acme].plan", "'xl' is not in plans (large, medium, small)"),
    ("plan-missing", _set(["plan"], _DELETE), "tenants[acme].plan", "is required"),
    ("owners-missing", _set(["owners"], _DELETE), "tenants[acme].owners", "is required"),
    ("no-admin-group", _set(["owners", "admin"], []), "tenants[acme].owners.admin", "at least one group"),
    ("admin-not-list", _set(["owners", "admin"], "acme-admins"), "tenants[acme].owners.admin", "list of group"),
    ("unknown-owner-role", _set(["owners", "operator"], ["x"]), "tenants[acme].owners.operator", "unknown key"),
    ("system-group", _set(["owners", "viewer"], ["system:authenticated"]), "owners.viewer[0]", "system group"),
    ("duplicate-group", _set(["owners", "developer"], ["a", "a"]), "owners.developer[1]", "listed twice"),
    ("environments-empty", _set(["environments"], []), "tenants[acme].environments", "non-empty list"),
    ("environment-bad-name", _set(["environments"], ["Dev"]), "tenants[acme].environments[Dev]", "DNS-1123"),
    ("environment-duplicate", _set(["environments"], ["dev", "dev"]), "environments[dev]", "listed twice"),
    (
        "environment-namespace-too-long",
        _set(["environments"], ["e" * 60]),
        "tenants[acme].environments[%s]" % ("e" * 60),
        "shorten the environment name",
    ),
    (
        "environment-unknown-key",
        _set(["environments"], [{"name": "dev", "override": {}}]),
        "environments[dev].override",
        "did you mean overrides",
    ),
    ("override-bad-quantity", _set(["overrides"], {"memory": "12 gigs"}), "tenants[acme].overrides.memory", "500m"),
    ("override-negative-quantity", _set(["overrides"], {"cpu": "-1"}), "tenants[acme].overrides.cpu", "negative"),
    ("override-bad-count", _set(["overrides"], {"pods": 1.5}), "tenants[acme].overrides.pods", "whole number"),
    ("override-negative-count", _set(["overrides"], {"secrets": -3}), "tenants[acme].overrides.secrets", "negative"),
    ("override-bool-count", _set(["overrides"], {"pods": True}), "tenants[acme].overrides.pods", "whole number"),
    ("override-unknown-key", _set(["overrides"], {"cpus": "2"}), "tenants[acme].overrides.cpus", "did you mean cpu"),
    (
        "environment-override-bad-quantity",
        _set(["environments"], [{"name": "prod", "overrides": {"storage": "lots"}}]),
        "tenants[acme].environments[prod].overrides.storage",
        "quantity",
    ),
    (
        "override-limit-below-request",
        _set(["overrides"], {"limits_cpu": "2"}),
        "tenants[acme].environments[dev]",
        "limits_cpu must be at least cpu",
    ),
    ("budget-negative", _set(["budget", "monthly"], -5), "tenants[acme].budget.monthly", "not positive"),
    ("budget-zero", _set(["budget", "monthly"], 0), "tenants[acme].budget.monthly", "leave budget out"),
    ("budget-huge", _set(["budget", "monthly"], "1e99"), "tenants[acme].budget.monthly", "not a real budget"),
    ("budget-nan", _set(["budget", "monthly"], "NaN"), "tenants[acme].budget.monthly", "not a real budget"),
    # A trailing newline passed re.match(...$) and was refused by the API server mid-batch.
    ("environment-trailing-newline", _set(["environments"], ["dev\n"]), "tenants[acme].environments", "DNS-1123"),
    ("name-trailing-newline", _set(["name"], "acme\n"), ".name", "DNS-1123"),
    ("label-value-newline", _set(["labels"], {"team": "pay\n"}), "tenants[acme].labels.team", "label value"),
    ("label-key-newline", _set(["labels"], {"team\n": "x"}), "labels.team", "label key"),
    ("cost-center-newline", _set(["cost_center"], "cc-1\n"), "tenants[acme].cost_center", "label value"),
    ("group-spaces", _set(["owners", "admin"], [" acme-admins "]), "owners.admin[0]", "surrounding spaces"),
    ("group-newline", _set(["owners", "developer"], ["acme-devs\n"]), "owners.developer[0]", "control characters"),
    (
        "memory-huge",
        _set(["overrides"], {"memory": "1e99"}),
        "tenants[acme].overrides.memory",
        "larger than Kubernetes",
    ),
    ("cpu-infinite", _set(["overrides"], {"cpu": "Infinity"}), "tenants[acme].overrides.cpu", "larger than Kubernetes"),
    ("pods-huge", _set(["overrides"], {"pods": 10**12}), "tenants[acme].overrides.pods", "real count"),
    (
        "nodeports-below-loadbalancers",
        _set(["overrides"], {"services_loadbalancers": 2, "services_nodeports": 1}),
        "tenants[acme].environments[dev]",
        "raise services_nodeports",
    ),
    ("adopt-not-bool", _set(["adopt"], "yes"), "tenants[acme].adopt", "true or false"),
    ("budget-not-number", _set(["budget", "monthly"], "lots"), "tenants[acme].budget.monthly", "not a number"),
    ("budget-unknown-currency", _set(["budget", "currency"], "XYZ"), "tenants[acme].budget.currency", "EUR"),
    ("budget-unknown-key", _set(["budget", "monthy"], 1), "tenants[acme].budget.monthy", "did you mean monthly"),
    ("pod-security-bad", _set(["pod_security"], "strict"), "tenants[acme].pod_security", "restricted, baseline"),
    ("cidr-bad", _set(["network", "egress_cidrs"], ["10.0.0.0/33"]), "network.egress_cidrs[0]", "10.20.0.0/16"),
    ("cidr-no-prefix", _set(["network", "egress_cidrs"], ["10.0.0.1"]), "network.egress_cidrs[0]", "not a CIDR"),
    (
        "cidr-host-bits",
        _set(["network", "egress_cidrs"], ["10.1.2.3/16"]),
        "network.egress_cidrs[0]",
        "write 10.1.0.0/16",
    ),
    ("cidrs-not-list", _set(["network", "egress_cidrs"], "10.0.0.0/8"), "network.egress_cidrs", "not a list"),
    ("ingress-not-bool", _set(["network", "allow_from_ingress"], "yes"), "network.allow_from_ingress", "true or false"),
    ("network-unknown-key", _set(["network", "egress"], []), "tenants[acme].network.egress", "unknown key"),
    ("alerts-empty", _set(["alerts"], {}), "tenants[acme].alerts", "names no receiver"),
    ("alerts-not-mapping", _set(["alerts"], "ops@acme.example"), "tenants[acme].alerts", "webhook_url"),
    ("alerts-unknown-key", _set(["alerts"], {"slack": "x"}), "tenants[acme].alerts.slack", "unknown key"),
    (
        "alerts-webhook-ftp",
        _set(["alerts"], {"webhook_url": "ftp://h/x"}),
        "tenants[acme].alerts.webhook_url",
        "http(s) URL",
    ),
    (
        "alerts-webhook-userinfo",
        _set(["alerts"], {"webhook_url": "https://u:p@h/x"}),
        "alerts.webhook_url",
        "without user info",
    ),
    ("alerts-email-bad", _set(["alerts"], {"email": "ops at acme"}), "tenants[acme].alerts.email", "ops@acme.example"),
    ("cost-center-bad", _set(["cost_center"], "cost center 1"), "tenants[acme].cost_center", "label value"),
    ("cost-center-too-long", _set(["cost_center"], "c" * 64), "tenants[acme].cost_center", "at most 63"),
    ("label-bad-key", _set(["labels"], {"-team": "x"}), "tenants[acme].labels.-team", "label key"),
    ("label-bad-value", _set(["labels"], {"team": "pay ments"}), "tenants[acme].labels.team", "label value"),
    ("label-int-value", _set(["labels"], {"tier": 1}), "tenants[acme].labels.tier", "quote it"),
    (
        "label-reserved-tenant",
        _set(["labels"], {"platykus.io/tenant": "beta"}),
        "labels.platykus.io/tenant",
        "reserved",
    ),
    (
        "label-reserved-pod-security",
        _set(["labels"], {"pod-security.kubernetes.io/enforce": "privileged"}),
        "labels.pod-security.kubernetes.io/enforce",
        "reserved",
    ),
    ("display-name-not-string", _set(["display_name"], ["x"]), "tenants[acme].display_name", "not a string"),
    (
        "priority-classes-in-overrides",
        _set(["overrides"], {"priority_classes": ["platykus-tenant-high"]}),
        "tenants[acme].overrides.priority_classes",
        "is a plan setting, not an override",
    ),
]


def test_nodeports_follow_loadbalancers_unless_set(plans, acme_spec):
    acme_spec["overrides"] = {"services_loadbalancers": 3}
    acme_spec["environments"] = ["dev", {"name": "prod", "overrides": {"services_nodeports": 10}}]
    dev, prod = validate_tenants([acme_spec], plans)[0].environments
    assert (dev.quota.services_loadbalancers, dev.quota.services_nodeports) == (3, 6)
    assert (prod.quota.services_loadbalancers, prod.quota.services_nodeports) == (3, 10)


def test_budget_rule_is_shared(acme_spec):
    from ansible_collections.platykus.platform.plugins.module_utils._tenants.sections import validate_budget

    assert validate_budget({"monthly": 400}, "budget").currency == "USD"
    assert validate_budget(None, "budget") is None
    with pytest.raises(PlatykusError, match="where.monthly"):
        validate_budget({"monthly": 0}, "where")


@pytest.mark.parametrize("case, mutate, field, fix", BAD_SPECS, ids=[case[0] for case in BAD_SPECS])
def test_bad_tenant_spec_names_the_field_and_the_fix(plans, acme_spec, case, mutate, field, fix):
    mutate(acme_spec)
    with pytest.raises(PlatykusError) as raised:
        validate_tenants([acme_spec], plans, platform_namespaces=["monitoring", "ingress-nginx"])
    message = str(raised.value)
    assert field in message, message
    assert fix in message, message


def test_every_problem_is_reported_at_once(plans, acme_spec):
    acme_spec["plan"] = "xl"
    acme_spec["pod_security"] = "none"
    acme_spec["budget"]["currency"] = "XYZ"
    with pytest.raises(PlatykusError) as raised:
        validate_tenants([acme_spec], plans)
    message = str(raised.value)
    assert message.startswith("3 problems in the tenant specs:")
    for field in ("tenants[acme].plan", "tenants[acme].pod_security", "tenants[acme].budget.currency"):
        assert field in message


def test_a_single_problem_reads_as_one_message(plans, acme_spec):
    acme_spec["plan"] = "xl"
    with pytest.raises(PlatykusError) as raised:
        validate_tenants([acme_spec], plans)
    assert str(raised.value) == "tenants[acme].plan: 'xl' is not in plans (large, medium, small); pick one of them"
    assert raised.value.field == "tenants[acme].plan"


def test_duplicate_tenant_names(plans, acme_spec):
    with pytest.raises(PlatykusError, match=r"tenants\[1\].name: tenant 'acme' is defined twice"):
        validate_tenants([acme_spec, dict(acme_spec)], plans)


def test_namespace_claimed_by_two_tenants(plans, acme_spec, beta_spec):
    # "acme" + "prod-eu" and "acme-prod" + "eu" both make namespace acme-prod-eu
    acme_spec["environments"].append("prod-eu")
    beta_spec["name"] = "acme-prod"
    beta_spec["environments"] = ["eu"]
    with pytest.raises(PlatykusError) as raised:
        validate_tenants([acme_spec, beta_spec], plans)
    assert "tenants[acme-prod].environments[eu]: namespace 'acme-prod-eu' is already claimed by tenant 'acme'" in str(
        raised.value
    )


def test_namespace_colliding_with_platform_namespace(plans, acme_spec):
    with pytest.raises(PlatykusError) as raised:
        validate_tenants([acme_spec], plans, platform_namespaces=["acme-dev"])
    assert "tenants[acme].environments[dev]: namespace 'acme-dev' is not allowed" in str(raised.value)
    assert "platform namespace" in str(raised.value)


def test_tenants_must_be_a_list(plans):
    with pytest.raises(PlatykusError, match="tenants: .* is not a list"):
        validate_tenants({"name": "acme"}, plans)


def test_tenant_must_be_a_mapping(plans):
    with pytest.raises(PlatykusError, match=r"tenants\[0\]: 'acme' is not a mapping"):
        validate_tenants(["acme"], plans)


def _plan(**extra):
    return {"small": dict({"cpu": "4", "memory": "8Gi", "storage": "1Gi", "pods": 1}, **extra)}


@pytest.mark.parametrize(
    "classes, field, fix",
    [
        ("platykus-tenant", "plans.small.priority_classes", "non-empty list of PriorityClass names"),
        ([], "plans.small.priority_classes", "write it like [platykus-tenant, platykus-tenant-high]"),
        (["system-cluster-critical"], "plans.small.priority_classes[0]", "never system-* or the platform's own"),
        (["platykus-tenant", "system-node-critical"], "plans.small.priority_classes[1]", "not a tenant PriorityClass"),
        (["platykus-platform-critical"], "plans.small.priority_classes[0]", "platykus-tenant, platykus-tenant-high"),
        (["made-up"], "plans.small.priority_classes[0]", "the classes the platform makes"),
        (["platykus-tenant", "platykus-tenant"], "plans.small.priority_classes", "list each once"),
    ],
)
def test_bad_plan_priority_classes(classes, field, fix):
    with pytest.raises(PlatykusError) as raised:
        validate_plans(_plan(priority_classes=classes))
    assert str(raised.value).startswith(field + ":")
    assert fix in str(raised.value)


def test_plan_priority_classes_reach_the_tenant(plans, acme_spec):
    assert validate_tenants([acme_spec], plans)[0].priority_classes == ("platykus-tenant",)  # the default
    plans["small"]["priority_classes"] = ["platykus-tenant-high", "platykus-tenant"]
    (tenant,) = validate_tenants([acme_spec], plans)
    assert tenant.priority_classes == ("platykus-tenant-high", "platykus-tenant")
    assert tenant.to_dict()["priority_classes"] == ["platykus-tenant-high", "platykus-tenant"]
    assert all(env.quota.pods for env in tenant.environments)  # the quota is untouched by the list


@pytest.mark.parametrize(
    "catalog, field, fix",
    [
        ({}, "plans", "at least one plan"),
        ({"small": {"memory": "8Gi", "storage": "1Gi", "pods": 1}}, "plans.small.cpu", "is required"),
        ({"small": {"cpu": "4", "memory": "8Gi", "storage": "1Gi"}}, "plans.small.pods", "is required"),
        ({"small": {"cpu": "four", "memory": "8Gi", "storage": "1Gi", "pods": 1}}, "plans.small.cpu", "quantity"),
        ({"small": {"cpu": "4", "memory": "8Gi", "storage": "1Gi", "pods": -1}}, "plans.small.pods", "negative"),
        (
            {"small": {"cpu": "4", "memory": "8Gi", "storage": "1Gi", "pods": 1, "gpu": 1}},
            "plans.small.gpu",
            "unknown key",
        ),
        ({"small": "4 cores"}, "plans.small", "not a mapping"),
        (
            {
                "small": {
                    "cpu": "4",
                    "memory": "8Gi",
                    "storage": "1Gi",
                    "pods": 1,
                    "default_request_cpu": "1",
                    "default_limit_cpu": "500m",
                }
            },
            "plans.small",
            "default_request_cpu 1 (from plans.small.default_request_cpu) is more than default_limit_cpu 500m",
        ),
        (
            {"small": {"cpu": "4", "memory": "8Gi", "storage": "1Gi", "pods": 1, "max_limit_memory": "256Mi"}},
            "plans.small",
            "default_limit_memory 512Mi (from the default 512Mi) is more than max_limit_memory 256Mi",
        ),
    ],
)
def test_bad_plans_catalog(catalog, field, fix):
    with pytest.raises(PlatykusError) as raised:
        validate_plans(catalog)
    assert field in str(raised.value)
    assert fix in str(raised.value)


def test_quota_derivation_with_overrides(plans, acme_spec):
    (tenant,) = validate_tenants([acme_spec], plans)
    dev, prod = tenant.environments
    assert (dev.namespace, prod.namespace) == ("acme-dev", "acme-prod")
    # plan small, tenant override memory 12Gi, prod override cpu 8 and pods 60
    assert dev.quota.cpu == Decimal(4)
    assert dev.quota.memory == Decimal(12 * 2**30)
    assert dev.quota.pods == 40
    assert prod.quota.cpu == Decimal(8)
    assert prod.quota.memory == Decimal(12 * 2**30)
    assert prod.quota.pods == 60
    # limits follow the overridden requests: cpu x 2, memory x 1
    assert dev.quota.limits_cpu == Decimal(8)
    assert prod.quota.limits_cpu == Decimal(16)
    assert prod.quota.limits_memory == Decimal(12 * 2**30)
    assert prod.quota.max_limit_cpu == Decimal(2)
    assert prod.quota.to_dict()["memory"] == "12Gi"


def test_plan_defaults_fill_unset_keys(plans, beta_spec):
    (tenant,) = validate_tenants([beta_spec], plans)
    quota = tenant.environments[0].quota.to_dict()
    assert quota["limits_cpu"] == "16"
    assert quota["limits_memory"] == "16Gi"
    assert quota["default_request_cpu"] == "100m"
    assert quota["services_loadbalancers"] == 0
    assert "max_limit_cpu" not in quota


def test_explicit_plan_limit_is_kept_when_tenant_overrides_cpu(plans, beta_spec):
    beta_spec["plan"] = "large"
    beta_spec["overrides"] = {"cpu": "20"}
    (tenant,) = validate_tenants([beta_spec], plans)
    assert tenant.environments[0].quota.limits_cpu == Decimal(24)


def test_normalized_tenant(plans, acme_spec):
    (tenant,) = validate_tenants([acme_spec], plans)
    assert tenant.display_name == "ACME Corp"
    assert tenant.owners == {"admin": ("acme-admins",), "developer": ("acme-devs",), "viewer": ("acme-auditors",)}
    assert tenant.budget.monthly == Decimal(2500) and tenant.budget.currency == "EUR"
    assert tenant.egress_cidrs == ("10.20.0.0/16",)
    assert tenant.to_dict()["budget"] == {"monthly": 2500, "currency": "EUR"}


def test_defaults_for_optional_fields(plans, beta_spec):
    (tenant,) = validate_tenants([beta_spec], plans)
    assert tenant.display_name == "beta"
    assert tenant.pod_security == "restricted"
    assert tenant.allow_from_ingress is True
    assert tenant.egress_cidrs == ()
    assert tenant.budget is None
    assert tenant.owners["viewer"] == ()


def test_select_tenants(plans, acme_spec, beta_spec):
    tenants = validate_tenants([acme_spec, beta_spec], plans)
    assert [t.name for t in select_tenants(tenants, None)] == ["acme", "beta"]
    assert [t.name for t in select_tenants(tenants, "beta")] == ["beta"]
    with pytest.raises(PlatykusError, match=r"tenant: 'gamma' is not among the tenant specs \(acme, beta\)"):
        select_tenants(tenants, "gamma")


@pytest.mark.parametrize(
    "value, kind, expected",
    [
        (Decimal("4"), "cpu", "4"),
        (Decimal("0.5"), "cpu", "500m"),
        (Decimal("1.5"), "cpu", "1500m"),
        (Decimal(8 * 2**30), "bytes", "8Gi"),
        (Decimal(1536 * 2**20), "bytes", "1536Mi"),
        (Decimal(8 * 10**9), "bytes", "8G"),
        (Decimal(0), "bytes", "0"),
        (Decimal(1000), "bytes", "1k"),
        (Decimal(123), "bytes", "123"),
    ],
)
def test_format_quantity(value, kind, expected):
    assert format_quantity(value, kind) == expected


def test_alerts_receivers_are_kept_and_the_webhook_hidden_in_results(plans, acme_spec):
    acme_spec["alerts"] = {"webhook_url": "https://hooks.example.com/acme?token=s3cret", "email": "ops@acme.example"}
    tenant = validate_tenants([acme_spec], plans)[0]
    assert tenant.alerts.webhook_url == "https://hooks.example.com/acme?token=s3cret"
    assert tenant.to_dict()["alerts"] == {"webhook_url": "(set)", "email": "ops@acme.example"}


def test_a_bad_webhook_url_is_not_echoed(plans, acme_spec):
    acme_spec["alerts"] = {"webhook_url": "https://user:s3cret@hooks.example.com/acme"}
    with pytest.raises(PlatykusError) as err:
        validate_tenants([acme_spec], plans)
    assert "s3cret" not in str(err.value)


def test_alerts_are_optional(plans, acme_spec):
    acme_spec.pop("alerts", None)
    tenant = validate_tenants([acme_spec], plans)[0]
    assert tenant.alerts is None and tenant.to_dict()["alerts"] is None
