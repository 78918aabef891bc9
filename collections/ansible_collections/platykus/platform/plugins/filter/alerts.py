# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the platform's tenant alerts (logic in module_utils/_tenants/alerts.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: alertmanager_config
short_description: Alertmanager configuration routing each tenant's alerts to the tenant's receiver
description:
  - Validates the tenant specs (as onboarding does) and returns Alertmanager's configuration, one route
    (matching the C(tenant) label) and receiver (the spec's C(alerts.webhook_url) and/or C(alerts.email)) per tenant.
  - The same file provides C(platform_alert_rules), the Prometheus rule file of the tenant alerts
    (quota above 90 %, pods Pending, an HPA at its maximum, a budget at warning or exceeded).
  - The result holds webhook URLs, which may carry tokens; use it with C(no_log).
options:
  _input:
    description: The tenant specs (platykus_tenants).
    type: list
    elements: dict
    required: true
  plans:
    description: The plans catalog (platykus_tenant_plans).
    type: dict
    required: true
  platform_namespaces:
    description: Namespaces tenants may not claim.
    type: list
    elements: str
  smtp:
    description: The mail relay (C(smarthost), C(from), C(require_tls)) for email receivers.
    type: dict
  timing:
    description: The top route's C(group_wait), C(group_interval) and C(repeat_interval).
    type: dict
"""

EXAMPLES = r"""
- name: Alertmanager's configuration
  ansible.builtin.set_fact:
    config: "{{ platykus_tenants | platykus.platform.alertmanager_config(plans=platykus_tenant_plans) }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: Alertmanager's configuration (route, receivers, and global SMTP settings when needed).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenants.alerts import (
    alertmanager_config,
    platform_rules,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import validate_tenants


def _alertmanager_config(tenants, plans, platform_namespaces=None, smtp=None, timing=None):
    try:
        valid = validate_tenants(list(tenants or []), plans, platform_namespaces or ())
        specs = [
            {
                "name": t.name,
                "alerts": {"webhook_url": t.alerts.webhook_url, "email": t.alerts.email} if t.alerts else None,
            }
            for t in valid
        ]
        return alertmanager_config(specs, smtp, timing)
    except PlatykusError as err:
        # The message names fields, never a webhook URL (it may hold a token).
        raise AnsibleFilterError("Failed to route the tenants' alerts: %s" % err) from err


def _platform_alert_rules(_input=None, quota_for="1m", pending_for="10m", hpa_for="15m"):
    return platform_rules(quota_for, pending_for, hpa_for)


class FilterModule:
    """platykus.platform alert filters."""

    def filters(self):
        return {"alertmanager_config": _alertmanager_config, "platform_alert_rules": _platform_alert_rules}
