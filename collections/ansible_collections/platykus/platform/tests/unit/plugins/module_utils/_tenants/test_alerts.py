"""The tenant alert rules and Alertmanager's routing by tenant."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenants.alerts import (
    PLATFORM_RECEIVER,
    alertmanager_config,
    platform_rules,
)


def test_every_rule_carries_the_tenant_of_its_namespace():
    rules = platform_rules(quota_for="0s")["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == [
        "PlatykusTenantQuotaNearlyFull",
        "PlatykusTenantPodPending",
        "PlatykusTenantHPAAtMaximum",
        "PlatykusTenantBudget",
    ]
    for rule in rules:
        assert "group_left (tenant)" in rule["expr"] and "label_platykus_io_tenant" in rule["expr"]
    assert rules[0]["for"] == "0s" and "> 0.9" in rules[0]["expr"]


def test_each_tenant_gets_its_own_route_and_receiver():
    config = alertmanager_config(
        [
            {"name": "acme", "alerts": {"webhook_url": "http://127.0.0.1:1/acme"}},
            {"name": "globex", "alerts": {"webhook_url": "http://127.0.0.1:1/globex", "email": "ops@globex.example"}},
            {"name": "initech", "alerts": None},
        ],
        smtp={"smarthost": "mail.example.com:587", "from": "alerts@example.com"},
        timing={"group_wait": "1s"},
    )
    route = config["route"]
    assert route["receiver"] == PLATFORM_RECEIVER and route["group_wait"] == "1s"
    assert route["routes"] == [
        {"receiver": "tenant-acme", "matchers": ['tenant="acme"']},
        {"receiver": "tenant-globex", "matchers": ['tenant="globex"']},
    ]
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["tenant-acme"]["webhook_configs"][0]["url"] == "http://127.0.0.1:1/acme"
    assert receivers["tenant-globex"]["email_configs"][0]["to"] == "ops@globex.example"
    assert config["global"]["smtp_smarthost"] == "mail.example.com:587"


def test_email_without_a_mail_relay_fails_naming_the_setting():
    with pytest.raises(PlatykusError, match=r"tenants\[acme\].alerts.email: .*platykus_alert_smtp"):
        alertmanager_config([{"name": "acme", "alerts": {"email": "ops@acme.example"}}])
