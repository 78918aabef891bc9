# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every Platykus Kubernetes module does around its own work: build the module, check the client
library, and run the work, failing with the error's message (:func:`call_kube`)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_connect import (
    CLIENT_ERRORS,
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.redact import redact_text

T = TypeVar("T")


def tenant_secret_values(tenants: object) -> set[str]:
    """Values inside tenant specs that must never be echoed: alert webhook URLs (they often carry
    a token). Read from the raw specs, so even an invalid spec's URL is masked."""
    found: set[str] = set()
    for spec in tenants if isinstance(tenants, list) else []:
        alerts = spec.get("alerts") if isinstance(spec, dict) else None
        url = alerts.get("webhook_url") if isinstance(alerts, dict) else None
        if isinstance(url, str) and url:
            found.add(url)
    return found


def platykus_module(argument_spec: dict, **kwargs) -> AnsibleModule:
    """An AnsibleModule with check mode, failing cleanly when the ``kubernetes`` library is missing.

    Tenant specs are options like any other, so their secrets are registered as no_log values here:
    Ansible then masks them in the invocation it returns and in every message.
    """
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    module.no_log_values.update(tenant_secret_values(module.params.get("tenants")))
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    return module


def call_kube(
    module: Any,
    action: Callable[[], T],
    failure: str | None = None,
    also: tuple[type[Exception], ...] = (),
) -> T:
    """``action()``'s result; on a PlatykusError (a KubeApiError is one), an error of the ``kubernetes``
    library that got past KubeClient, or one of ``also`` (e.g. OSError for a module that writes a file),
    the module fails with the error's message, led by ``failure`` (``"Failed to ..."``) when given.

    The Kubernetes modules' twin of ``_aws.module.call_aws``. A library error's own text carries the
    response's headers and body (which may hold a Secret), so only its status and reason are said.
    """
    try:
        return action()
    except (PlatykusError, *also) as err:
        text, trace = str(err), traceback.format_exc()
    except CLIENT_ERRORS as err:
        status, reason = getattr(err, "status", None), getattr(err, "reason", None)
        said = "%s %s" % (status, reason) if status else "%s: %s" % (type(err).__name__, reason or err)
        text = redact_text("the Kubernetes client failed: %s" % said)
        trace = "".join(traceback.format_tb(err.__traceback__)) + "%s: %s\n" % (type(err).__name__, text)
    module.fail_json(msg=text if failure is None else "%s: %s" % (failure, text), exception=trace)
    raise AssertionError("fail_json returns only in tests")  # pragma: no cover
