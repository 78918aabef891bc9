# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one AWS client factory (amazon.aws builds, every call retried) and the AWS modules' shared
failure and diff handling (a fake module records what it is asked)."""

from __future__ import annotations

import botocore.exceptions
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.platykus.platform.plugins.module_utils._aws.module import (
    AWS_CREDENTIALS_SPEC,
    AWS_ENDPOINT_SPEC,
    RetryingClient,
    call_aws,
    clients,
    diff_result,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self, diff: bool = False):
        self._diff = diff
        self.failure: dict = {}

    def fail_json(self, **kwargs):
        self.failure = kwargs
        raise Failed()

    def fail_json_aws(self, err, msg):
        self.failure = {"aws": err, "msg": msg}
        raise Failed()


def _raise(err: Exception):
    raise err


def test_result_passes_through():
    assert call_aws(FakeModule(), "Failed to x", lambda: {"changed": False}) == {"changed": False}


def test_platykus_error_is_led_by_the_failure():
    module = FakeModule()
    with pytest.raises(Failed):
        call_aws(module, "Failed to tag cache c1", lambda: _raise(PlatykusError("tags: not a mapping")))
    assert module.failure["msg"] == "Failed to tag cache c1: tags: not a mapping"
    assert "PlatykusError" in module.failure["exception"]


def test_an_error_that_says_what_failed_is_not_led_twice():
    module = FakeModule()
    with pytest.raises(Failed):
        call_aws(module, "Failed to tag cache c1", lambda: _raise(PlatykusError("Failed to tag cache 'c1': gone")))
    assert module.failure["msg"] == "Failed to tag cache 'c1': gone"


def test_aws_errors_go_to_fail_json_aws():
    module = FakeModule()
    denied = botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListTags")
    with pytest.raises(Failed):
        call_aws(module, "Failed to tag cache c1", lambda: _raise(denied))
    assert module.failure == {"aws": denied, "msg": "Failed to tag cache c1"}


def test_other_errors_are_not_swallowed():
    with pytest.raises(ZeroDivisionError):
        call_aws(FakeModule(), "Failed", lambda: 1 / 0)


@pytest.mark.parametrize("diff", [True, False])
def test_diff_result(diff):
    result = diff_result(FakeModule(diff), {"changed": True, "before": {"a": "1"}, "tags": {"a": "2"}}, "tags")
    assert "before" not in result
    assert result.get("diff") == ({"before": {"tags": {"a": "1"}}, "after": {"tags": {"a": "2"}}} if diff else None)


# -- the one client factory ------------------------------------------------------------------------
class PlainModule(FakeModule):
    """What clients() reads of a module that is not an AnsibleAWSModule: its params and fail_json."""

    _name = "platykus.platform.tenant_aws"

    def __init__(self, **params):
        super().__init__()
        self.params = dict({"profile": None, "access_key": None, "secret_key": None, "session_token": None}, **params)


def test_a_client_is_made_from_the_modules_connection_options():
    module = PlainModule(
        access_key="AKIDTEST", secret_key="s3cr3t", region="eu-west-1", endpoint_url="http://127.0.0.1:9"
    )
    sts = clients(module)("sts")
    assert isinstance(sts, RetryingClient)
    assert sts.client.meta.region_name == "eu-west-1"
    assert sts.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert sts.client._request_signer._credentials.access_key == "AKIDTEST"  # pylint: disable=protected-access


def test_a_sections_region_and_endpoint_win_over_the_modules():
    module = PlainModule(access_key="AKIDTEST", secret_key="s3cr3t")  # no region nor endpoint_url option
    budgets = clients(module, "us-east-1", "http://127.0.0.1:5000")("budgets")
    assert budgets.client.meta.region_name == "us-east-1"
    assert budgets.client.meta.endpoint_url == "http://127.0.0.1:5000"


def test_a_profile_with_keys_is_refused_as_amazon_aws_refuses_it():
    module = PlainModule(profile="platykus", access_key="AKIDTEST", secret_key="s3cr3t", region="us-east-1")
    with pytest.raises(Failed):
        clients(module)("iam")
    assert "profile and access tokens" in module.failure["msg"]


def test_the_options_are_amazon_aws_own():
    from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec

    theirs = aws_argument_spec()
    for name, spec in AWS_CREDENTIALS_SPEC.items():
        assert spec["aliases"] == theirs[name]["aliases"] and spec["fallback"] == theirs[name]["fallback"], name
    assert AWS_CREDENTIALS_SPEC["secret_key"]["no_log"] and AWS_CREDENTIALS_SPEC["session_token"]["no_log"]
    assert AWS_ENDPOINT_SPEC["endpoint_url"]["fallback"] == theirs["endpoint_url"]["fallback"]
    assert AWS_ENDPOINT_SPEC["region"]["aliases"] == theirs["region"]["aliases"]


class Flaky:
    """A boto3-like client whose describe fails ``failures`` times with ``code``, then answers."""

    def __init__(self, code: str, failures: int = 1):
        self.code, self.failures, self.calls = code, failures, 0

    def describe(self, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise botocore.exceptions.ClientError({"Error": {"Code": self.code, "Message": "slow down"}}, "Describe")
        return {"asked": kwargs}


QUICK = AWSRetry.jittered_backoff(retries=3, delay=0, max_delay=0)


def test_every_call_is_retried_on_throttling_without_aws_retry():
    flaky = Flaky("Throttling", failures=2)
    assert RetryingClient(flaky, QUICK).describe(Name="x") == {"asked": {"Name": "x"}}
    assert flaky.calls == 3


@pytest.mark.parametrize("code", ["AccessDenied", "NoSuchEntity"])
def test_an_error_that_is_not_transient_is_raised_at_once(code):
    flaky = Flaky(code)
    with pytest.raises(botocore.exceptions.ClientError):
        RetryingClient(flaky, QUICK).describe()
    assert flaky.calls == 1


def test_aws_retry_false_still_turns_retries_off():
    flaky = Flaky("Throttling")
    with pytest.raises(botocore.exceptions.ClientError):
        RetryingClient(flaky, QUICK).describe(aws_retry=False)
    assert flaky.calls == 1
