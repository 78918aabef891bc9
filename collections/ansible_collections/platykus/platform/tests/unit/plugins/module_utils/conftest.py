# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared tenant and plan fixtures: a small valid catalog and valid specs tests mutate."""

from __future__ import annotations

import copy

import pytest

PLANS = {
    "small": {
        "cpu": "4",
        "memory": "8Gi",
        "storage": "100Gi",
        "pods": 40,
        "services_loadbalancers": 1,
        "persistentvolumeclaims": 10,
        "services": 20,
        "configmaps": 50,
        "secrets": 50,
        "default_request_cpu": "100m",
        "default_request_memory": "128Mi",
        "default_limit_cpu": "500m",
        "default_limit_memory": "512Mi",
        "max_limit_cpu": "2",
        "max_limit_memory": "4Gi",
    },
    "medium": {"cpu": "8", "memory": "16Gi", "storage": "200Gi", "pods": 80},
    "large": {"cpu": "16", "memory": "32Gi", "storage": "500Gi", "pods": 160, "limits_cpu": "24"},
}

ACME = {
    "name": "acme",
    "display_name": "ACME Corp",
    "owners": {"admin": ["acme-admins"], "developer": ["acme-devs"], "viewer": ["acme-auditors"]},
    "environments": ["dev", {"name": "prod", "overrides": {"cpu": "8", "pods": 60}}],
    "plan": "small",
    "overrides": {"memory": "12Gi"},
    "budget": {"monthly": 2500, "currency": "EUR"},
    "pod_security": "restricted",
    "network": {"allow_from_ingress": True, "egress_cidrs": ["10.20.0.0/16"]},
    "cost_center": "cc-1234",
    "labels": {"team": "payments"},
}

BETA = {
    "name": "beta",
    "owners": {"admin": ["beta-admins"], "developer": ["beta-devs"]},
    "environments": ["prod"],
    "plan": "medium",
}


@pytest.fixture
def plans():
    return copy.deepcopy(PLANS)


@pytest.fixture
def acme_spec():
    return copy.deepcopy(ACME)


@pytest.fixture
def beta_spec():
    return copy.deepcopy(BETA)
