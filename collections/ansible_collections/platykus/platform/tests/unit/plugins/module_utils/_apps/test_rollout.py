# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._apps.rollout import (
    RolloutFailed,
    _wait,
    deployment_state,
    job_state,
)


def dep(generation=2, observed=2, replicas=2, updated=2, available=2, total=2, conditions=()):
    return {
        "metadata": {"name": "shop-web", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "replicas": total,
            "conditions": list(conditions),
        },
    }


@pytest.mark.parametrize(
    "state,done",
    [
        (dep(), True),
        (dep(observed=1), False),
        (dep(updated=1), False),
        (dep(available=1), False),
        (dep(total=3), False),  # an old pod is still there
        (None, False),
    ],
)
def test_deployment_state(state, done):
    assert deployment_state(state)[0] is done


def test_progress_deadline_fails_at_once():
    with pytest.raises(RolloutFailed, match="shop-web: .*progress"):
        deployment_state(
            dep(
                updated=1,
                conditions=[
                    {"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "has not made progress"}
                ],
            )
        )


@pytest.mark.parametrize(
    "conditions,result",
    [
        ([{"type": "Complete", "status": "True"}], (True, None)),
        (
            [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "failed"}],
            (True, "BackoffLimitExceeded: failed"),
        ),
        ([], (False, None)),
    ],
)
def test_job_state(conditions, result):
    assert job_state({"status": {"conditions": conditions}}) == result


def test_wait_times_out_naming_what_it_waited_for():
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    with pytest.raises(RolloutFailed, match=r"not done after 5s: 1 of 2 pods updated"):
        _wait(lambda: (False, "1 of 2 pods updated"), 5, sleep, lambda: now[0])
