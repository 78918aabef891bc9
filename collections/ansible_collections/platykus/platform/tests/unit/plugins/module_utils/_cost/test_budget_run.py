# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tenant_budget's run against an in-memory API: check mode, real run, idempotent second run, then recovery."""

from __future__ import annotations

import copy

from ansible_collections.platykus.platform.plugins.module_utils._core.kube import ApplyResult, object_key
from ansible_collections.platykus.platform.plugins.module_utils._cost.budget_run import run_budgets
from ansible_collections.platykus.platform.plugins.modules import tenant_budget


def run(params, api, check_mode=False):
    """The module's run: its options (unset ones None, as Ansible passes them), the fake API, diff on."""
    options = {key: None for key in tenant_budget.argument_spec()}
    options.update(params)
    return run_budgets(options, lambda: api, check_mode=check_mode, diff=True)


class FakeApi:
    """Just enough of KubeClient: lists, server-side apply of our fields, create."""

    def __init__(self):
        self.objects = {
            "Namespace/acme-prod": {
                "kind": "Namespace",
                "metadata": {"name": "acme-prod", "annotations": {}, "labels": {"platykus.io/tenant": "acme"}},
            },
            "ResourceQuota/acme-prod/tenant-quota": {
                "kind": "ResourceQuota",
                "metadata": {"name": "tenant-quota", "namespace": "acme-prod", "annotations": {}},
                "spec": {"hard": {"pods": "20", "requests.cpu": "8"}},
                "status": {"used": {"pods": "6"}},
            },
        }
        self.events = []

    def list_all(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        return [copy.deepcopy(o) for o in self.objects.values() if o["kind"] == kind]

    def create(self, obj, dry_run=False):
        self.events.append(obj)
        return obj

    def apply(self, objects, field_manager="platykus", dry_run=False, current=None):
        results = []
        for obj in objects:
            key = object_key(obj)
            before = copy.deepcopy(self.objects[key])
            after = copy.deepcopy(before)
            ours = obj["metadata"].get("annotations", {})
            owned = after["metadata"].setdefault("owned", set())
            for name in list(owned - set(ours)):  # fields we no longer send are released (removed)
                after["metadata"]["annotations"].pop(name, None)
            after["metadata"]["annotations"].update(ours)
            after["metadata"]["owned"] = set(ours)
            if "spec" in obj:
                after["spec"]["hard"].update(obj["spec"]["hard"])
            changed = before["metadata"]["annotations"] != after["metadata"]["annotations"] or before.get(
                "spec"
            ) != after.get("spec")
            if not dry_run:
                self.objects[key] = after
            results.append(ApplyResult(key=key, before=before, after=after, changed=changed))
        return results


def report(spent):
    return {
        "currency": "USD",
        "window": {"end": "2024-06-20T00:00:00Z"},
        "tenants": [
            {
                "name": "acme",
                "namespaces": ["acme-prod"],
                "budget": 50.0,
                "forecast": spent * 1.5,
                "cost": {"total": spent},
                "cost_center": None,
            }
        ],
    }


def test_check_real_idempotent_and_recovery():
    api = FakeApi()
    params = {"report": report(60.0), "enforce": True}

    predicted = run(params, api, check_mode=True)
    assert predicted["changed"] is True and len(predicted["events"]) == 1
    assert api.events == [] and api.objects["Namespace/acme-prod"]["metadata"]["annotations"] == {}

    done = run(params, api)
    assert done["changed"] is True
    assert (done["events"], done["namespaces"]["updated"]) == (predicted["events"], predicted["namespaces"]["updated"])
    assert api.objects["Namespace/acme-prod"]["metadata"]["annotations"]["platykus.io/budget-status"] == "exceeded"
    quota = api.objects["ResourceQuota/acme-prod/tenant-quota"]
    assert quota["spec"]["hard"]["pods"] == "6"
    assert quota["metadata"]["annotations"]["platykus.io/budget-original-pods"] == "20"

    again = run(params, api)
    assert again["changed"] is False and again["events"] == []
    assert again["tenants"][0]["enforcement"] == {"acme-prod": "keep"}

    recovered = run({"report": report(10.0), "enforce": True}, api)
    assert recovered["changed"] is True
    assert api.events[-1]["reason"] == "BudgetStatusRecovered"
    quota = api.objects["ResourceQuota/acme-prod/tenant-quota"]
    assert quota["spec"]["hard"]["pods"] == "20"
    assert "platykus.io/budget-original-pods" not in quota["metadata"]["annotations"]
