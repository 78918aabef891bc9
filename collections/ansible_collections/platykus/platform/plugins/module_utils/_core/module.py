# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every Platykus module does before its own work: build the module, check the client library."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.platykus.platform.plugins.module_utils._core.kube import (
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
)


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
