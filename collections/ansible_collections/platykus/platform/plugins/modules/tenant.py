#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant
short_description: Onboard, update or offboard platform tenants
version_added: 0.1.0
description:
  - With O(state=present), validates every tenant spec against the plans catalog, checks that the
    tenants' quotas fit the cluster, then server-side applies all objects of the chosen tenant(s)
    in one batch. Per environment namespace C(<tenant>-<environment>) these are the Namespace
    (with Pod Security labels), the ServiceAccounts C(default) (token automount off) and
    C(ci-deployer), the Roles C(tenant-admin), C(tenant-developer) and C(tenant-viewer), their
    RoleBindings to the owner groups, the NetworkPolicies (default deny, DNS, same tenant,
    ingress controller, extra egress CIDRs), the ResourceQuota C(tenant-quota) and the
    LimitRange C(tenant-limits); once per cluster, the ValidatingAdmissionPolicy and binding
    C(platykus-deny-sa-token-secrets) that refuse long-lived ServiceAccount token Secrets in tenant namespaces.
  - The whole batch is dry-run on the API server first; if any object would be refused, nothing is written.
  - A namespace that exists without Platykus's labels is refused unless the tenant spec sets C(adopt) to C(true);
    an adopted namespace is marked C(platykus.io/adopted) and the Roles and RoleBindings found in it are reported.
  - Roles and RoleBindings in tenant namespaces that Platykus did not write and that grant more than
    C(tenant-admin) are handled per O(unmanaged_rbac).
  - With O(state=absent), offboards the tenant O(tenant). It deletes every namespace labelled
    C(platykus.io/tenant=<tenant>) that Platykus created, and from adopted namespaces removes only
    Platykus's own objects and labels. It requires O(confirm) to repeat the tenant
    name and refuses while PersistentVolumeClaims or objects labelled C(platykus.io/data-service)
    remain in the namespaces it would delete, unless O(force=true).
  - Tenant roles never get RBAC writes, escalate, bind, impersonate, wildcards, service account
    token creation, cluster-scoped access, or writes on quotas, limit ranges, network policies
    or namespaces. See C(docs/tenants.md).
author:
  - Platykus engineers (@platykus)
extends_documentation_fragment:
  - platykus.platform.kubeconfig
  - platykus.platform.capacity
attributes:
  check_mode:
    support: full
    description: Uses server-side dry runs for applies and deletes.
  diff_mode:
    support: full
    description: Returns the before and after of every changed object (O(state=present)).
options:
  state:
    description:
      - V(present) applies the tenants' objects; V(absent) offboards O(tenant).
    type: str
    choices: [present, absent]
    default: present
  tenants:
    description:
      - The tenant specs, as loaded from C(inventories/<env>/tenants/*.yml). Required with O(state=present).
      - The whole list is validated even when O(tenant) picks one of them.
    type: list
    elements: raw
  plans:
    description:
      - The plans catalog, plan name to per-namespace limits. Required with O(state=present).
    type: raw
  platform_namespaces:
    description:
      - Namespaces of the platform itself; no tenant namespace may take these names, and offboarding never deletes them.
    type: list
    elements: str
    default: []
  tenant:
    description:
      - With O(state=present), apply this tenant only (all tenants when not set).
      - With O(state=absent), the tenant to offboard; required.
    type: str
  ingress_namespace:
    description:
      - Namespace of the ingress controller, allowed to reach tenants whose C(network.allow_from_ingress) is true.
      - When empty, no ingress traffic is allowed from outside the tenant.
    type: str
    default: ingress-nginx
  unmanaged_rbac:
    description:
      - What to do with Roles and RoleBindings in tenant namespaces that Platykus did not write and that grant
        more than C(tenant-admin) (a binding of the built-in C(admin) ClusterRole added by hand, for example).
      - V(prune) deletes them after the tenant objects are applied; V(fail) refuses to run, listing them,
        before anything is written; V(keep) leaves them (the isolation audit still reports them).
    type: str
    choices: [prune, fail, keep]
    default: prune
  confirm:
    description:
      - With O(state=absent), must equal O(tenant); a guard against offboarding the wrong tenant.
    type: str
  force:
    description:
      - With O(state=absent), delete the namespaces even though PersistentVolumeClaims or data-service objects remain.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Onboard or update every tenant
  platykus.platform.tenant:
    tenants: "{{ platykus_tenants }}"
    plans: "{{ platykus_tenant_plans }}"
    platform_namespaces: "{{ platykus_platform_namespaces }}"
    ingress_namespace: ingress-nginx
    overcommit: "{{ platykus_tenant_overcommit }}"

- name: Onboard one tenant
  platykus.platform.tenant:
    tenants: "{{ platykus_tenants }}"
    plans: "{{ platykus_tenant_plans }}"
    tenant: acme

- name: Offboard acme once its data is gone
  platykus.platform.tenant:
    state: absent
    tenant: acme
    confirm: acme
"""

RETURN = r"""
created:
  description: Keys (Kind/namespace/name) of the objects created (O(state=present)).
  returned: state=present
  type: list
  elements: str
updated:
  description: Keys of the objects changed (O(state=present)).
  returned: state=present
  type: list
  elements: str
unchanged:
  description: Keys of the objects already as desired (O(state=present)).
  returned: state=present
  type: list
  elements: str
namespaces:
  description: The tenant namespaces applied (O(state=present)).
  returned: state=present
  type: list
  elements: str
  sample: [acme-dev, acme-prod]
tenants:
  description: The validated, normalized tenant specs applied, with each namespace's resolved quota.
  returned: state=present
  type: list
  elements: dict
capacity:
  description: Per resource (cpu, memory, pods), what the tenants request against the cluster's capacity.
  returned: state=present
  type: list
  elements: dict
budget_enforced:
  description:
    - Namespaces whose ResourceQuota C(pods) limit is currently lowered by M(platykus.platform.tenant_budget);
      their C(pods) limit is left alone so budget enforcement holds, the other limits are applied.
  returned: state=present
  type: list
  elements: str
capacity_warnings:
  description: Capacity excesses reported instead of failing (O(capacity_policy=warn)); also emitted as warnings.
  returned: state=present
  type: list
  elements: str
pruned:
  description: Roles and RoleBindings deleted (or that would be, in check mode) because they granted more than tenant-admin.
  returned: state=present
  type: list
  elements: str
excess_rbac:
  description: Roles and RoleBindings found granting more than tenant-admin, with what they grant beyond it.
  returned: state=present
  type: list
  elements: str
adopted:
  description: Per adopted namespace, the Roles and RoleBindings Platykus found there and did not write.
  returned: state=present
  type: dict
released:
  description: With O(state=absent), the Platykus objects removed from adopted namespaces (which are kept).
  returned: state=absent
  type: list
  elements: str
deleted:
  description: Namespaces deleted (or that would be, in check mode) when offboarding.
  returned: state=absent
  type: list
  elements: str
  sample: [Namespace/acme-dev, Namespace/acme-prod]
terminating:
  description: Tenant namespaces that were already being deleted.
  returned: state=absent
  type: list
  elements: str
blockers:
  description: PVCs and data-service objects found when offboarding (deleted anyway with O(force=true)).
  returned: state=absent
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
    UNMANAGED_RBAC_CHOICES,
    apply_tenants,
    capacity_params,
    offboard_tenant,
    tenant_set_params,
)


def main() -> None:
    module = platykus_module(
        dict(
            TENANT_SET_ARGUMENT_SPEC,
            **CAPACITY_ARGUMENT_SPEC,
            # Offboarding needs no specs: only the tenant's name.
            tenants=dict(type="list", elements="raw"),
            plans=dict(type="raw"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            ingress_namespace=dict(type="str", default="ingress-nginx"),
            unmanaged_rbac=dict(type="str", choices=list(UNMANAGED_RBAC_CHOICES), default="prune"),
            confirm=dict(type="str"),
            force=dict(type="bool", default=False),
        ),
        required_if=[("state", "present", ("tenants", "plans")), ("state", "absent", ("tenant",))],
    )
    params = module.params
    connect = client_factory(params)
    try:
        if params["state"] == "absent":
            result = offboard_tenant(
                connect,
                tenant=params["tenant"],
                confirm=params["confirm"],
                force=params["force"],
                platform_namespaces=params["platform_namespaces"],
                check_mode=module.check_mode,
            )
        else:
            result = apply_tenants(
                connect,
                **tenant_set_params(params),
                **capacity_params(params),
                ingress_namespace=params["ingress_namespace"] or None,
                unmanaged_rbac=params["unmanaged_rbac"],
                check_mode=module.check_mode,
                diff=module._diff,
            )
    except PlatykusError as err:
        module.fail_json(msg=str(err), exception=traceback.format_exc())
    for warning in result.get("capacity_warnings", []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
