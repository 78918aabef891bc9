# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator provider's objects against golden files (PLATYKUS_UPDATE_GOLDEN=1 rewrites them).

The same objects were applied with strict field validation (server-side dry run) to the lab's API
server holding the operators' own CRDs (CloudNativePG v1.27.1, MySQL operator 9.1.0-2.2.2, Redis
operator v0.22.1, Strimzi 0.48.0); those CRDs are not in the repository, so CI checks the goldens.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from ansible_collections.platykus.platform.plugins.module_utils._addons import operator
from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import AddonRef
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

GOLDEN = Path(__file__).parent.parent / "golden" / "addon_operator"
# The generic inventory's plans (inventories/generic/group_vars/all/addons.yml).
CASES = [
    ("kafka", "basic-0"),
    ("kafka", "standard-0"),
    ("mysql", "premium-0"),
    ("mysql", "standard-0"),
    ("postgresql", "hobby-dev"),
    ("postgresql", "premium-0"),
    ("postgresql", "standard-0"),
    ("redis", "mini"),
    ("redis", "premium-0"),
]
LABELS = {"platykus.io/data-service": "x", "platykus.io/tenant": "acme"}


def test_cases_cover_the_generic_plans(repo_file):
    plans = yaml.safe_load(repo_file("inventories/generic/group_vars/all/addons.yml").read_text())["platykus_addons"][
        "plans"
    ]
    assert sorted((t, p) for t, entries in plans.items() for p in entries) == CASES


@pytest.mark.parametrize("addon_type, plan", CASES, ids=["%s-%s" % c for c in CASES])
def test_objects_match_golden(repo_file, addon_type, plan):
    plans = yaml.safe_load(repo_file("inventories/generic/group_vars/all/addons.yml").read_text())["platykus_addons"][
        "plans"
    ]
    ref = AddonRef("acme", "shop", addon_type, "acme-dev", plan, plans[addon_type][plan])
    objects = operator.render(ref, LABELS, "addon-shop")
    path = GOLDEN / ("%s-%s.yml" % (addon_type, plan))
    text = yaml.safe_dump(objects, sort_keys=True)  # one document (a list): yamllint wants one per file
    if os.environ.get("PLATYKUS_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()
    for obj in objects:
        assert obj["metadata"]["namespace"] == "acme-dev"
        assert obj["metadata"]["labels"]["platykus.io/data-service"] == "x"


def test_credentials_point_at_the_operator_service():
    ref = AddonRef("acme", "shop", "postgresql", "acme-dev", "standard-0", {})
    creds = operator.credentials(ref, "pw")
    assert creds["host"] == "addon-shop-rw.acme-dev.svc" and creds["port"] == "5432"
    assert creds["url"] == "postgresql://%s:pw@addon-shop-rw.acme-dev.svc:5432/%s" % (ref.ident, ref.ident)
    assert creds["username"] == ref.ident  # CloudNativePG's basic-auth keys


def test_buckets_have_no_operator():
    with pytest.raises(PlatykusError, match="set platykus_addons.providers.bucket to aws"):
        operator.render(AddonRef("acme", "b", "bucket", "acme-dev", "x", {}), {}, "addon-b")
