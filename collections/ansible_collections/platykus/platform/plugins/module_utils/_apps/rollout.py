# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for an app's release Job and its Deployments' rollouts, with a timeout and a reason."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient


class RolloutFailed(Exception):
    """A release Job or a rollout did not finish in time; the message says which and why."""


def job_state(job: Mapping[str, Any] | None) -> tuple[bool, str | None]:
    """(finished, failure reason): a Job is finished when Complete, failed when Failed."""
    if not job:
        return False, None
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            return True, None
        if cond.get("type") == "Failed":
            return True, "%s: %s" % (cond.get("reason"), cond.get("message"))
    return False, None


def deployment_state(dep: Mapping[str, Any] | None) -> tuple[bool, str]:
    """(rolled out, what it waits for); raises RolloutFailed when the deadline passed on the server."""
    if not dep:
        return False, "the Deployment does not exist yet"
    meta, spec, status = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
    want = spec.get("replicas", 1)
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            raise RolloutFailed("%s: %s" % (meta.get("name"), cond.get("message")))
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False, "the controller has not seen the new spec"
    updated, ready, total = (
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        status.get("replicas", 0),
    )
    if updated < want or ready < want or total > updated:
        return False, "%d of %d pods updated, %d available, %d old pods left" % (
            updated,
            want,
            ready,
            max(total - updated, 0),
        )
    return True, "rolled out"


def _wait(
    check: Callable[[], tuple[bool, str]], timeout: float, sleep: Callable[[float], None], clock: Callable[[], float]
) -> str:
    deadline = clock() + timeout
    while True:
        done, why = check()
        if done:
            return why
        if clock() >= deadline:
            raise RolloutFailed("not done after %gs: %s" % (timeout, why))
        sleep(1.0)


def wait_job(
    client: KubeClient, namespace: str, name: str, timeout: float, sleep=time.sleep, clock=time.monotonic
) -> None:
    def check() -> tuple[bool, str]:
        finished, failure = job_state(client.get("batch/v1", "Job", name, namespace))
        if failure:
            raise RolloutFailed("release Job %s failed (%s)" % (name, failure))
        return finished, "release Job %s has not completed" % name

    _wait(check, timeout, sleep, clock)


def wait_deployments(
    client: KubeClient, namespace: str, deployments: list[str], timeout: float, sleep=time.sleep, clock=time.monotonic
) -> None:
    def check() -> tuple[bool, str]:
        waiting = []
        for name in deployments:
            done, why = deployment_state(client.get("apps/v1", "Deployment", name, namespace))
            if not done:
                waiting.append("%s: %s" % (name, why))
        return not waiting, "; ".join(waiting)

    _wait(check, timeout, sleep, clock)
