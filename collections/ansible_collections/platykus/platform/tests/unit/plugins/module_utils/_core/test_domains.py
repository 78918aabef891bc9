# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant spec's ``domains``: DNS names, no overlap between tenants, onto the namespace annotation."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.domains import covered, namespace_annotations
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenants.objects import render_tenant
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import validate_tenants

PLANS = {"small": {"cpu": "4", "memory": "8Gi", "storage": "10Gi", "pods": 10}}


def tenant(name, domains):
    return {
        "name": name,
        "plan": "small",
        "owners": {"admin": ["%s-admins" % name]},
        "environments": ["dev"],
        "domains": domains,
    }


def test_domains_are_validated_and_reach_the_namespace():
    (acme,) = validate_tenants([tenant("acme", ["acme.apps.example.com"])], PLANS)
    assert acme.domains == ("acme.apps.example.com",)
    assert acme.to_dict()["domains"] == ["acme.apps.example.com"]
    namespace = render_tenant(acme)[0]
    assert namespace["metadata"]["annotations"]["platykus.io/domains"] == "acme.apps.example.com"


@pytest.mark.parametrize(
    "domains,field,fix",
    [
        ("acme.example.com", "tenants[acme].domains", "not a list"),
        (["Acme.Example.com"], "tenants[acme].domains[0]", "not a DNS name"),
        (["*.acme.example.com"], "tenants[acme].domains[0]", "not a DNS name"),
        (["localhost"], "tenants[acme].domains[0]", "not a DNS name"),
    ],
)
def test_bad_domains_name_field_and_fix(domains, field, fix):
    with pytest.raises(PlatykusError) as err:
        validate_tenants([tenant("acme", domains)], PLANS)
    assert "%s: " % field in str(err.value) and fix in str(err.value)


@pytest.mark.parametrize("other", ["apps.example.com", "acme.apps.example.com", "x.acme.apps.example.com"])
def test_domains_may_not_overlap_between_tenants(other):
    with pytest.raises(PlatykusError) as err:
        validate_tenants([tenant("acme", ["acme.apps.example.com"]), tenant("globex", [other])], PLANS)
    assert "tenants[globex].domains: '%s' overlaps 'acme.apps.example.com' of tenant 'acme'" % other in str(err.value)


def test_sibling_domains_do_not_overlap():
    specs = [
        tenant("acme", ["acme.apps.example.com"]),
        tenant("globex", ["globex.apps.example.com", "notacme.apps.example.com"]),
    ]
    assert len(validate_tenants(copy.deepcopy(specs), PLANS)) == 2


def test_no_domains_no_annotation():
    assert namespace_annotations(()) == {}


@pytest.mark.parametrize(
    "host,allowed",
    [
        ("acme.example.com", True),
        ("a.b.acme.example.com", True),
        ("*.acme.example.com", True),
        ("xacme.example.com", False),
        ("example.com", False),
    ],
)
def test_covered(host, allowed):
    assert covered(host, ["acme.example.com"]) is allowed
