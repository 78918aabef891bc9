#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_quota
short_description: Apply the ResourceQuota and LimitRange of tenant namespaces from their plans
version_added: 0.1.0
description:
  - Validates every tenant spec against the plans catalog (all problems are reported at once,
    each naming its field path and the fix) before anything is written.
  - Checks that the sum of all tenants' namespace quotas (requests.cpu, requests.memory, pods)
    fits the schedulable nodes' allocatable capacity times O(overcommit).
  - Server-side applies only the ResourceQuota C(tenant-quota) and the LimitRange C(tenant-limits)
    of each tenant environment namespace. The namespaces must already exist and carry the label
    C(platykus.io/tenant=<tenant>); use M(platykus.platform.tenant) to onboard a tenant.
  - Plan values apply per environment namespace; the tenant's C(overrides), then the environment's
    C(overrides), replace plan values key by key. See C(docs/tenants.md) for the spec.
author:
  - Platykus engineers (@platykus)
extends_documentation_fragment:
  - platykus.platform.kubeconfig
  - platykus.platform.capacity
attributes:
  check_mode:
    support: full
    description: Uses a server-side dry run, so the prediction is what the API server would do.
  diff_mode:
    support: full
    description: Returns the before and after of every changed object.
options:
  tenants:
    description:
      - The tenant specs, as loaded from C(inventories/<env>/tenants/*.yml).
      - The whole list is validated even when O(tenant) picks one of them.
    type: list
    elements: raw
    required: true
  plans:
    description:
      - The plans catalog, plan name to per-namespace limits (C(cpu), C(memory), C(storage), C(pods), ...).
    type: raw
    required: true
  platform_namespaces:
    description:
      - Namespaces of the platform itself; no tenant or tenant namespace may take these names.
    type: list
    elements: str
    default: []
  tenant:
    description:
      - Apply the quotas of this tenant only. All tenants when not set.
    type: str
"""

EXAMPLES = r"""
- name: Apply every tenant's quotas
  platykus.platform.tenant_quota:
    tenants: "{{ platykus_tenants }}"
    plans: "{{ platykus_tenant_plans }}"
    platform_namespaces: "{{ platykus_platform_namespaces }}"
    overcommit:
      cpu: 1.5
      memory: 1.0

- name: Re-apply one tenant's quotas after a plan change, warning instead of failing on capacity
  platykus.platform.tenant_quota:
    tenants: "{{ platykus_tenants }}"
    plans: "{{ platykus_tenant_plans }}"
    tenant: acme
    capacity_policy: warn
"""

RETURN = r"""
quotas:
  description: The applied limits, keyed by namespace.
  returned: success
  type: dict
  sample:
    acme-prod:
      tenant: acme
      environment: prod
      hard: {requests.cpu: "4", requests.memory: 8Gi, limits.cpu: "8", pods: "40"}
      limits: {type: Container, default: {cpu: 500m, memory: 512Mi}, defaultRequest: {cpu: 100m, memory: 128Mi}}
created:
  description: Keys (Kind/namespace/name) of the objects created.
  returned: success
  type: list
  elements: str
updated:
  description: Keys of the objects changed.
  returned: success
  type: list
  elements: str
unchanged:
  description: Keys of the objects already as desired.
  returned: success
  type: list
  elements: str
capacity:
  description: Per resource (cpu, memory, pods), what the tenants request against the cluster's capacity.
  returned: success
  type: list
  elements: dict
  sample:
    - resource: cpu
      requested: 24 cores
      capacity: 24 cores
      exceeded: false
      message: "tenants fit cluster cpu capacity: requested 24 cores <= 4 nodes × 4 cores × 1.5 = 24"
budget_enforced:
  description:
    - Namespaces whose ResourceQuota C(pods) limit is currently lowered by M(platykus.platform.tenant_budget);
      their C(pods) limit is left alone so budget enforcement holds, the other limits are applied.
  returned: success
  type: list
  elements: str
capacity_warnings:
  description: Capacity excesses reported instead of failing (O(capacity_policy=warn)); also emitted as warnings.
  returned: success
  type: list
  elements: str
"""

import traceback

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import client_factory
from ansible_collections.platykus.platform.plugins.module_utils._core.module import platykus_module
from ansible_collections.platykus.platform.plugins.module_utils._tenants.ops import (
    CAPACITY_ARGUMENT_SPEC,
    TENANT_SET_ARGUMENT_SPEC,
    apply_tenant_quotas,
    capacity_params,
    tenant_set_params,
)


def main() -> None:
    module = platykus_module(dict(TENANT_SET_ARGUMENT_SPEC, **CAPACITY_ARGUMENT_SPEC))
    params = module.params
    connect = client_factory(params)
    try:
        result = apply_tenant_quotas(
            connect,
            **tenant_set_params(params),
            **capacity_params(params),
            check_mode=module.check_mode,
            diff=module._diff,
        )
    except PlatykusError as err:
        module.fail_json(msg=str(err), exception=traceback.format_exc())
    for warning in result["capacity_warnings"]:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
