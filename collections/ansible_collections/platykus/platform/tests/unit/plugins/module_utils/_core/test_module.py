# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The shared module setup: tenant secrets masked, and call_kube (errors to fail_json, results through)."""

from __future__ import annotations

import pytest
import urllib3
from kubernetes.client.rest import ApiException

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_types import KubeApiError
from ansible_collections.platykus.platform.plugins.module_utils._core.module import call_kube, tenant_secret_values


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


class Failed(Exception):
    pass


class FakeModule:
    """Records what fail_json is given and stops there, as AnsibleModule's exit does."""

    def __init__(self):
        self.failure: dict = {}

    def fail_json(self, **kwargs):
        self.failure = kwargs
        raise Failed()


def _raise(err: BaseException):
    raise err


def test_the_result_passes_through():
    module = FakeModule()
    assert call_kube(module, lambda: {"changed": True, "created": ["Namespace/a"]}) == {
        "changed": True,
        "created": ["Namespace/a"],
    }
    assert module.failure == {}


def test_a_platykus_error_fails_with_its_message_as_it_is():
    module = FakeModule()
    with pytest.raises(Failed):
        call_kube(module, lambda: _raise(PlatykusError("tenants[0].name: required; set it", field="name")))
    assert module.failure["msg"] == "tenants[0].name: required; set it"
    assert "PlatykusError" in module.failure["exception"]


def test_a_kube_api_error_is_led_by_the_failure_when_given():
    module = FakeModule()
    refused = KubeApiError("apply", "ConfigMap acme-prod/cost", 403, "forbidden")
    with pytest.raises(Failed):
        call_kube(module, lambda: _raise(refused), failure="Failed to publish the tenants' cost")
    assert (
        module.failure["msg"]
        == "Failed to publish the tenants' cost: Failed to apply ConfigMap acme-prod/cost: 403 forbidden"
    )


def test_also_adds_error_types():
    module = FakeModule()
    with pytest.raises(Failed):
        call_kube(
            module,
            lambda: _raise(PermissionError("[Errno 13] denied: '/x'")),
            failure="Failed to write",
            also=(OSError,),
        )
    assert module.failure["msg"] == "Failed to write: [Errno 13] denied: '/x'"


def test_a_library_error_says_status_and_reason_never_its_body():
    module = FakeModule()
    err = ApiException(status=500, reason="Internal Server Error")
    err.body = '{"data": {"password": "s3cret"}}'
    err.headers = {"Authorization": "Bearer t0ken"}
    with pytest.raises(Failed):
        call_kube(module, lambda: _raise(err))
    assert module.failure["msg"] == "the Kubernetes client failed: 500 Internal Server Error"
    assert "s3cret" not in repr(module.failure) and "t0ken" not in repr(module.failure)


def test_a_transport_error_is_redacted():
    module = FakeModule()
    err = urllib3.exceptions.MaxRetryError(None, "https://admin:hunter2@api:6443/api", reason="refused")
    with pytest.raises(Failed):
        call_kube(module, lambda: _raise(err), failure="Failed to report usage")
    assert module.failure["msg"] == "Failed to report usage: the Kubernetes client failed: MaxRetryError: refused"
    assert "hunter2" not in repr(module.failure)


def test_other_errors_are_not_swallowed():
    with pytest.raises(ZeroDivisionError):
        call_kube(FakeModule(), lambda: 1 / 0)
