# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KubeClient against an in-memory API server: paging, missing objects, errors, retries, batches."""

from __future__ import annotations

import pytest
import urllib3

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import BatchSummary, KubeApiError, KubeClient
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.fake_api import FakeApiServer


def ns(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def cm(name, namespace, **data):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}, **data}


@pytest.mark.parametrize("count, page", [(0, 3), (5, 2), (6, 3), (7, 500)])
def test_list_all_follows_continue_tokens(count, page):
    api = FakeApiServer([ns("n%02d" % i) for i in range(count)], page_size=page)
    names = [item["metadata"]["name"] for item in api.client().list_all("v1", "Namespace")]
    assert names == ["n%02d" % i for i in range(count)]
    lists = [call for call in api.calls if call[1] == "/api/v1/namespaces"]
    assert len(lists) == max(1, -(-count // page))


def test_list_filters_by_label_and_kind_is_filled_in():
    api = FakeApiServer([ns("a", team="x"), ns("b", team="y")])
    items = api.client().list_all("v1", "Namespace", label_selector="team=y")
    assert [(i["kind"], i["metadata"]["name"]) for i in items] == [("Namespace", "b")]


def test_get_missing_rule():
    client = FakeApiServer().client()
    assert client.get("v1", "Namespace", "nope") is None
    with pytest.raises(KubeApiError, match=r"^Failed to get Namespace nope: 404 Namespace \"nope\" not found$"):
        client.get("v1", "Namespace", "nope", missing="raise")


def test_delete_missing_rule():
    api = FakeApiServer([ns("a")])
    client = api.client()
    assert client.delete("v1", "Namespace", "a") is True
    assert client.delete("v1", "Namespace", "a") is False
    with pytest.raises(KubeApiError, match="Failed to delete Namespace a: 404"):
        client.delete("v1", "Namespace", "a", missing="raise")


def test_unknown_api_version_is_named():
    with pytest.raises(KubeApiError, match="Failed to discover apiVersion nope.io/v1: 404 not served"):
        FakeApiServer().client().resource("nope.io/v1", "Thing")


def test_transient_failures_are_retried_with_backoff():
    api = FakeApiServer([ns("a")])
    api.faults = [503, urllib3.exceptions.ProtocolError("Connection aborted.")]
    slept = []
    client = api.client()
    client._sleep = slept.append
    assert client.get("v1", "Namespace", "a")["metadata"]["name"] == "a"
    assert slept == [0.5, 1.0]


def test_no_answer_names_the_object_the_verb_and_the_cause():
    api = FakeApiServer([ns("a")])
    client = api.client(retries=2, timeout=3)
    client.resource("v1", "Namespace")
    api.faults = [urllib3.exceptions.ReadTimeoutError(None, "/api", "Read timed out.")] * 3
    with pytest.raises(KubeApiError) as raised:
        client.get("v1", "Namespace", "a")
    message = str(raised.value)
    assert message.startswith("Failed to get Namespace a: no answer from the API server after 3 attempt(s)")
    assert "ReadTimeoutError" in message and "request_timeout" in message


def test_refusals_are_not_retried():
    api = FakeApiServer()
    client = api.client()
    client.resource("v1", "Namespace")
    api.faults = [403]
    with pytest.raises(KubeApiError, match="Failed to get Namespace a: 403 injected 403"):
        client.get("v1", "Namespace", "a")
    assert len(api.calls) == 2  # discovery + one GET


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


@pytest.mark.parametrize(
    ("timeout", "said"),
    [
        (30, "with a 10s connect timeout (the TLS handshake included) and a 30s read timeout ("),
        (3, "with a 3s timeout ("),
    ],
)
def test_no_answer_names_the_timeouts_that_applied(timeout, said):
    # A stalled TLS handshake is reported by urllib3 as "(read timeout=10)": the message must not
    # say 30s alone then.
    api = FakeApiServer([ns("a")])
    client = api.client(retries=0, timeout=timeout)
    client.resource("v1", "Namespace")
    api.faults = [urllib3.exceptions.ReadTimeoutError(None, "/api", "Read timed out. (read timeout=10)")]
    with pytest.raises(KubeApiError) as raised:
        client.get("v1", "Namespace", "a")
    assert "no answer from the API server after 1 attempt(s) " + said in str(raised.value)
    assert client.timeouts == (min(10.0, timeout), timeout)
