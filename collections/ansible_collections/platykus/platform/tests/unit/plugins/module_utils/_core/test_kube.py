# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KubeClient against an in-memory API server: batches (dry run, apply, prefetch) and impersonation."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import BatchSummary, KubeClient
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.fake_api import FakeApiServer


def ns(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def cm(name, namespace, **data):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}, **data}


def test_apply_creates_then_changes_nothing():
    api = FakeApiServer([ns("default")])
    client = api.client()
    batch = [ns("acme"), cm("ci", "acme")]
    first = BatchSummary.from_results(client.apply(batch))
    assert first.created == ["Namespace/acme", "ServiceAccount/acme/ci"]
    versions = {key: obj["metadata"]["resourceVersion"] for key, obj in api.store.items()}
    second = BatchSummary.from_results(client.apply(batch))
    assert (second.changed, second.unchanged) == (False, ["Namespace/acme", "ServiceAccount/acme/ci"])
    assert {key: obj["metadata"]["resourceVersion"] for key, obj in api.store.items()} == versions
    assert not [call for call in api.calls[-4:] if call[0] == "PATCH" and "dryRun" not in call[2]]


def test_dry_run_writes_nothing_and_predicts_objects_in_new_namespaces():
    api = FakeApiServer([ns("default")])
    results = api.client().apply([ns("acme"), cm("ci", "acme")], dry_run=True)
    assert [(r.key, r.changed, r.before) for r in results] == [
        ("Namespace/acme", True, None),
        ("ServiceAccount/acme/ci", True, None),
    ]
    assert api.keys("Namespace") == ["default"] and api.keys("ServiceAccount") == []
    # The object of the new namespace was validated in an existing one, not skipped.
    assert ("PATCH", "/api/v1/namespaces/default/serviceaccounts/ci") in [(c[0], c[1]) for c in api.calls]


def test_a_refused_object_stops_the_batch_before_any_write():
    api = FakeApiServer([ns("default")])
    api.refuse = lambda obj: 'metadata.labels: Invalid value: "dev\\n"' if obj["kind"] == "ServiceAccount" else None
    with pytest.raises(PlatykusError) as raised:
        api.client().apply([ns("acme"), cm("ci", "acme"), cm("bot", "acme")])
    message = str(raised.value)
    assert "refused 2 of 3 objects in a dry run, so nothing was written" in message
    assert "ServiceAccount/acme/ci" in message and "Invalid value" in message
    assert api.keys("Namespace") == ["default"]


def test_prefetch_lists_by_label_and_gets_only_what_can_exist():
    api = FakeApiServer([ns("old", team="x"), ns("bare"), cm("default", "bare")])
    client = api.client()
    wanted = [ns("old"), ns("bare"), ns("new"), cm("default", "bare"), cm("ci", "new")]
    found = client.prefetch(wanted, label_selector="team=x")
    assert sorted(found) == ["Namespace/bare", "Namespace/old", "ServiceAccount/bare/default"]
    gets = [call[1] for call in api.calls if call[0] == "GET" and "limit" not in call[2] and call[1].count("/") > 3]
    assert "/api/v1/namespaces/new/serviceaccounts/ci" not in gets


def test_impersonate_keeps_the_connection_and_adds_the_headers():
    class ApiClient:
        def __init__(self, configuration):
            self.configuration = configuration
            self.headers = {}

        def set_default_header(self, name, value):
            self.headers[name] = value

    client = KubeClient(ApiClient("cluster-config"), timeout=5, retries=1)
    acting = client.impersonate("audit-acme-viewer", "acme-auditors")
    assert acting.api_client.configuration == "cluster-config"
    assert acting.api_client.headers == {"Impersonate-User": "audit-acme-viewer", "Impersonate-Group": "acme-auditors"}
    assert (acting.timeout, acting.retries) == (5, 1) and client.api_client.headers == {}
