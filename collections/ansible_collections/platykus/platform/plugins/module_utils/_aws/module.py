# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection's AWS modules reach AWS: clients with amazon.aws's retries, one place that
turns a PlatykusError or an AWS error into the module's failure, and the diff of a before/after value.

The modules stay thin (argument spec, then one call into their module_utils through
:func:`call_aws`); the logic they call is plain Python on boto3 clients, unit-tested on moto.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, TypeVar

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

T = TypeVar("T")


def clients(module: Any) -> Callable[[str], Any]:
    """``clients(module)("iam")``: a boto3 client of the module's region and credentials, with jittered retries."""
    retry = AWSRetry.jittered_backoff()
    return lambda service: module.client(service, retry_decorator=retry)


def call_aws(module: Any, failure: str, action: Callable[[], T]) -> T:
    """``action()``'s result; on a PlatykusError or an AWS error the module fails, its message led by
    ``failure`` (amazon.aws's style, "Failed to ...") unless the error already says what failed."""
    try:
        return action()
    except PlatykusError as err:
        msg = str(err) if str(err).startswith("Failed to ") else "%s: %s" % (failure, err)
        module.fail_json(msg=msg, exception=traceback.format_exc())
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(err, msg=failure)
    raise AssertionError("fail_json returns only in tests")  # pragma: no cover


def diff_result(module: Any, result: dict, key: str) -> dict:
    """The result without its ``before`` value, with a diff of ``key`` when the run asks for one."""
    before = result.pop("before", None)
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {"before": {key: before}, "after": {key: result[key]}}
    return result
