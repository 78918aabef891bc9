# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.module import tenant_secret_values


@pytest.mark.parametrize(
    "tenants, expected",
    [
        (None, set()),
        ("not a list", set()),
        ([{"name": "a"}, ["x"], None], set()),
        ([{"alerts": {"webhook_url": "https://h/a?t=1"}}, {"alerts": {"email": "x@y"}}], {"https://h/a?t=1"}),
        ([{"alerts": "bad"}, {"alerts": {"webhook_url": 5}}], set()),
    ],
)
def test_tenant_secret_values(tenants, expected):
    assert tenant_secret_values(tenants) == expected
