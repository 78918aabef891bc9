# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection reaches AWS: the one client factory, one place that turns a PlatykusError or
an AWS error into the module's failure, and the diff of a before/after value.

Every boto3 client of the collection is made by :func:`clients` (a unit test scans the sources to keep
it so): amazon.aws builds it from the module's connection options (``profile``, ``access_key``,
``secret_key``, ``session_token``, ``region``, ``endpoint_url``, with amazon.aws's names, aliases and
environment fallbacks) and every call is retried with amazon.aws's ``AWSRetry.jittered_backoff``.
The AWS modules (AnsibleAWSModule) declare the options through amazon.aws; the Kubernetes modules
that also call AWS add :data:`AWS_CREDENTIALS_SPEC` (and :data:`AWS_ENDPOINT_SPEC`, or a section's own
``region``/``endpoint_url``), documented by the ``platykus.platform.aws`` doc fragment.

The modules stay thin (argument spec, then one call into their module_utils through
:func:`call_aws`); the logic they call is plain Python on boto3 clients, unit-tested on moto.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore; clients() raises for the other modules

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    HAS_BOTO3,
    boto3_conn,
    get_aws_connection_info,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

T = TypeVar("T")
Clients = Callable[[str], Any]
# ``connect(region, endpoint_url)("budgets")``: what a module hands its module_utils (``functools.partial(clients, module)``).
AwsConnect = Callable[[Any, Any], Clients]

# amazon.aws's own option specs (names, aliases, environment fallbacks, no_log), for the modules that
# are not AnsibleAWSModules. Their region keeps the default it always had (us-east-1; their objects'
# ARNs need one), so it has no environment fallback.
_AMAZON_AWS_SPEC = aws_argument_spec()
AWS_CREDENTIALS_SPEC: dict[str, dict] = {
    name: dict(_AMAZON_AWS_SPEC[name], type="str") for name in ("profile", "access_key", "secret_key", "session_token")
}
AWS_ENDPOINT_SPEC: dict[str, dict] = dict(
    region=dict(type="str", aliases=list(_AMAZON_AWS_SPEC["region"]["aliases"]), default="us-east-1"),
    endpoint_url=dict(_AMAZON_AWS_SPEC["endpoint_url"], type="str"),
)
RETRY = AWSRetry.jittered_backoff()


class RetryingClient(RetryingBotoClientWrapper):
    """amazon.aws's retrying client that retries every call, not only those passing ``aws_retry=True``:
    the module_utils it is handed are plain boto3 code, unit-tested on plain clients."""

    def _create_optional_retry_wrapper_function(self, unwrapped: Callable[..., Any]) -> Callable[..., Any]:
        deciding = super()._create_optional_retry_wrapper_function(unwrapped)

        @wraps(unwrapped)
        def retrying(*args: Any, aws_retry: bool = True, **kwargs: Any) -> Any:
            return deciding(*args, aws_retry=aws_retry, **kwargs)

        return retrying


def clients(module: Any, region: str | None = None, endpoint_url: str | None = None, retry: Any = None) -> Clients:
    """``clients(module)("iam")``: a boto3 client from the module's connection options, every call retried.

    ``region`` and ``endpoint_url`` (an option section's own, such as ``aws_budgets.region``) win over
    the module's options of those names. Connection errors fail the module the amazon.aws way.
    """

    def client(service: str) -> Any:
        if not HAS_BOTO3:
            raise PlatykusError(missing_required_lib("boto3 and botocore", reason="to call AWS %s" % service))
        found_region, found_endpoint, connect = get_aws_connection_info(module)
        conn = boto3_conn(
            module,
            conn_type="client",
            resource=service,
            region=region or found_region,
            endpoint=endpoint_url or found_endpoint,
            **connect,
        )
        return RetryingClient(conn, retry or RETRY)

    return client


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
