# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._apps.catalog import validate_catalog
from ansible_collections.platykus.platform.plugins.module_utils._apps.quota import app_needs, check_fits, current_usage
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import validate_app
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.app_fixtures import CATALOG, spec

APP = validate_app(spec(), validate_catalog(CATALOG), None)


def quota(hard: dict, used: dict | None = None) -> dict:
    return {
        "metadata": {"name": "tenant-quota", "namespace": "acme-dev"},
        "spec": {"hard": hard},
        "status": {"hard": hard, "used": used or {}},
    }


def test_needs_count_every_process_at_its_most_plus_a_surge_pod():
    needs = app_needs(APP)
    # web 2+1, worker 3+1, indexer 1+1, release 1, cron 1
    assert needs["pods"] == 11
    assert needs["requests.cpu"] == Decimal("0.25") * 3 + Decimal("0.1") * 8
    assert needs["requests.storage"] == 2**30 and needs["persistentvolumeclaims"] == 1
    assert needs["count/services"] == 1 and needs["count/configmaps"] == 2


def test_services_over_the_quota_are_counted_without_the_apps_own():
    full = quota({"count/services": "20"}, {"count/services": "20"})
    with pytest.raises(PlatykusError, match="count/services needs up to 1 but 0 of 20 is left"):
        check_fits(APP, [full], [], {})
    check_fits(APP, [full], [], current_usage([], [{"kind": "Service"}]))


def test_app_that_fits_passes():
    check_fits(APP, [quota({"pods": "40", "requests.cpu": "4", "requests.memory": "8Gi"})], [], {})


def test_app_over_the_quota_names_it():
    with pytest.raises(PlatykusError) as err:
        check_fits(APP, [quota({"pods": "40", "requests.cpu": "2"}, {"requests.cpu": "1500m"})], [], {})
    message = str(err.value)
    assert "nothing was written" in message
    assert (
        "ResourceQuota acme-dev/tenant-quota: requests.cpu needs up to 1550m but 500m of 2 is left (other apps use 1500m)"
        in message
    )


def test_the_apps_own_pods_are_not_counted_twice():
    pods = [{"status": {"phase": "Running"}, "spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}}]
    own = current_usage(pods, [])
    check_fits(APP, [quota({"requests.cpu": "2100m"}, {"requests.cpu": "1500m"})], [], own)
    with pytest.raises(PlatykusError):
        check_fits(APP, [quota({"requests.cpu": "2100m"}, {"requests.cpu": "1500m"})], [], {})


def test_finished_pods_do_not_count():
    pods = [{"status": {"phase": "Succeeded"}, "spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}}]
    assert current_usage(pods, [])["pods"] == 0


def test_size_above_the_limit_range_is_refused():
    limit_range = {
        "metadata": {"name": "tenant-limits", "namespace": "acme-dev"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "500m"}}]},
    }
    with pytest.raises(
        PlatykusError,
        match="processes.web.size: 'standard-1x' has a cpu limit of 1, above the 500m maximum of LimitRange acme-dev/tenant-limits",
    ):
        check_fits(APP, [], [limit_range], {})
