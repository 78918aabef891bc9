# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._apps.catalog import validate_catalog
from ansible_collections.platykus.platform.plugins.module_utils._apps.releases import (
    RELEASES_KEPT,
    History,
    as_of,
    load_history,
    next_release,
    render_releases,
    with_release,
)
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import validate_app
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.app_fixtures import CATALOG, spec

APP = validate_app(spec(), validate_catalog(CATALOG), None)


def first_history():
    number, new = next_release(History({}), APP, "ci", "t1")
    return with_release(History({}), number, new)


def test_first_deploy_is_release_1():
    history = first_history()
    assert history.current == 1
    assert history.releases[1]["description"] == "Deploy registry.example.com/acme/shop:1.0.0"


def test_same_image_and_config_is_no_new_release():
    assert next_release(first_history(), APP, "ci", "t2") == (1, None)


def test_config_change_is_a_new_release():
    changed = dataclasses.replace(APP, config={"LOG_LEVEL": "debug"})
    number, new = next_release(first_history(), changed, "ci", "t2")
    assert number == 2 and new["description"] == "Config change" and new["by"] == "ci"


def test_history_survives_the_configmap_round_trip():
    history = first_history()
    again = load_history(render_releases(APP, history))
    assert again.releases == history.releases and again.current == 1


def test_rollback_takes_the_old_image_and_config():
    history = first_history()
    newer = dataclasses.replace(APP, image="registry.example.com/acme/shop:2.0.0", config={})
    number, new = next_release(history, newer, "ci", "t2")
    history = with_release(history, number, new)
    back = as_of(newer, history, 1)
    assert back.image == APP.image and back.config == APP.config and back.secrets == APP.secrets
    number, new = next_release(history, back, "ci", "t3", "Rollback to v1")
    assert number == 3 and new["description"] == "Rollback to v1"


def test_unknown_release_names_those_kept():
    with pytest.raises(PlatykusError, match=r"v9 is not a release .* \(kept: v1\)"):
        as_of(APP, first_history(), 9)


def test_failed_release_keeps_the_current_one():
    history = first_history()
    number, new = next_release(
        history, dataclasses.replace(APP, image="registry.example.com/acme/shop:2.0.0"), "ci", "t2"
    )
    history = with_release(history, number, new)
    failed = with_release(history, 2, None, status="failed")
    assert failed.releases[2]["status"] == "failed"
    assert failed.previous_good(2) == 1


def test_only_the_last_releases_are_kept():
    history = History({})
    for n in range(1, RELEASES_KEPT + 5):
        history = with_release(history, n, {"image": "i%d" % n, "status": "deployed"})
    assert len(history.releases) == RELEASES_KEPT and min(history.releases) == 5
