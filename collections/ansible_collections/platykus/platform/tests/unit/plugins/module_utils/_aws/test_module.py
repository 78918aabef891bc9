# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS modules' shared failure and diff handling (a fake module records what it is asked)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from ansible_collections.platykus.platform.plugins.module_utils._aws.module import call_aws, diff_result
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
