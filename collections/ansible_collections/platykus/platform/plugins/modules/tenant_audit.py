#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_audit
short_description: Audit tenant isolation (read-only)
version_added: 0.1.0
description:
  - For every tenant, role (admin, developer, viewer) and owner group, asks the API server through
    SubjectAccessReviews whether user C(audit-<tenant>-<role>) in that group (and in
    C(system:authenticated)) can reach cluster-scoped resources, other tenants' or platform
    namespaces, change quotas, limit ranges, network policies or its own Namespace, escalate,
    bind, impersonate, create service account tokens (in any namespace or cluster-wide) or bind
    cluster-admin; and whether it can still do its job.
  - Per tenant namespace, checks the Pod Security enforce label, a default-deny NetworkPolicy,
    the ResourceQuota and LimitRange, RoleBindings to cluster-admin, admin or edit, RoleBindings
    that grant more than the tenant roles, wildcards in Roles and the default ServiceAccount, and
    dry-run creates privileged, hostPath, hostNetwork and hostPID pods that admission must reject.
  - Checks that the ValidatingAdmissionPolicy C(platykus-deny-sa-token-secrets) and its binding
    deny creating C(kubernetes.io/service-account-token) Secrets in every tenant namespace, and
    proves it per namespace by a dry-run create of such a Secret acting as each tenant role
    (impersonating C(audit-<tenant>-<role>) in each owner group); the API server must refuse it.
  - Check C(PLK-CRED-1) asks, acting as each tenant role, whether it can get, list or watch any Secret labelled
    C(platykus.io/aws-access-key) (the AWS access keys the platform makes, wherever they are). It fails when one
    is readable, or when a tenant namespace still holds the old key Secret C(platykus-aws-credentials).
  - Check ids follow the Kubernetes Multi-Tenancy Benchmark (C(MTB-)) and the CIS Kubernetes
    Benchmark section 5 (C(CIS-5.x.y)).
  - Never changes anything; C(changed) is always false. SubjectAccessReviews are not stored and
    creates are server-side dry runs.
  - The audit's own identity needs C(create) on C(subjectaccessreviews), C(impersonate) on
    C(users) and C(groups), and read access to the tenant namespaces' objects, ClusterRoles,
    ClusterRoleBindings and validating admission policies.
author:
  - Platykus engineers (@platykus)
extends_documentation_fragment:
  - platykus.platform.kubeconfig
attributes:
  check_mode:
    support: full
    description: The audit only reads, so check mode runs it unchanged.
  diff_mode:
    support: none
    description: The audit changes nothing, so there is nothing to diff.
options:
  tenants:
    description:
      - The tenant specs, as loaded from C(inventories/<env>/tenants/*.yml); validated like M(platykus.platform.tenant) does.
    type: list
    elements: raw
    required: true
  plans:
    description:
      - The plans catalog the tenant specs are validated against.
    type: raw
    required: true
  platform_namespaces:
    description:
      - Namespaces of the platform itself; tenants must not reach them.
    type: list
    elements: str
    default: []
  tenant:
    description:
      - Audit this tenant only (the other tenants' namespaces still count as places it must not reach).
    type: str
  aws:
    description:
      - The AWS side (check C(PLK-AWS-1), namespace column C(aws)), on the aws provider. Each tenant's IAM
        role as amazon.aws read it back from IAM, evaluated on the policy documents (IAM's policy simulator is
        not used); the role must reach its own secrets, bucket, objects and hosted zone records, none of another
        tenant's, not the platform's zone, and has no managed policy. A failure names the tenant, the role and
        the policy statement that reaches too far.
      - C(tenants) is C(platykus.platform.aws_tenant_identities) of the tenant specs; C(policies) and C(roles) are
        the C(amazon.aws.iam_policy_info) and C(amazon.aws.iam_role_info) results for their roles, in the same
        order; C(zone_ids) maps a tenant to its hosted zone id; C(platform_zone_id) is the platform's zone.
      - C(identities) (lab and generic) is the C(identities) result of M(platykus.platform.tenant_aws_info). Check
        C(PLK-AWS-2) fails for each IAM user or role made for a tenant that is no longer in O(tenants), naming it and
        its active access keys.
    type: dict
  kubernetes:
    description:
      - Audit the cluster. V(false) audits only the AWS side (O(aws)) and connects to no API server.
    type: bool
    default: true
  fail_on_violation:
    description:
      - Fail the task, with a table of the failed checks, when any check fails.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Audit tenant isolation
  platykus.platform.tenant_audit:
    tenants: "{{ platykus_tenants }}"
    plans: "{{ platykus_tenant_plans }}"
    platform_namespaces: "{{ platykus_platform_namespaces }}"
  register: audit

- name: Report without failing
  platykus.platform.tenant_audit:
    tenants: "{{ platykus_tenants }}"
    plans: "{{ platykus_tenant_plans }}"
    fail_on_violation: false
  register: audit

- name: Audit the tenants' IAM roles only (aws provider; reads as in playbooks/verify-tenants.yml)
  platykus.platform.tenant_audit:
    tenants: "{{ platykus_tenants }}"
    plans: "{{ platykus_tenant_plans }}"
    kubernetes: false
    aws:
      tenants: "{{ identities }}"
      policies: "{{ policies.results }}"
      roles: "{{ roles.results }}"
      zone_ids: "{{ zone_ids }}"
      platform_zone_id: Z0123456789ABCDEFGHIJ
  register: audit

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ audit.table.splitlines() }}"
"""

RETURN = r"""
checks:
  description: Every check with its result.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Check id, C(MTB-*), C(CIS-5.*) or C(PLK-*).
      type: str
      sample: MTB-1.13
    tenant:
      description: Tenant name.
      type: str
    role:
      description: Tenant role tested (admin, developer, viewer; the IAM role's name for C(PLK-AWS-1)), or C(-) for checks not about one role.
      type: str
    namespace:
      description: Namespace checked, C(*) for checks spanning the tenant, C(aws) for the AWS side.
      type: str
    description:
      description: What the check asserts.
      type: str
    result:
      description: V(pass) or V(fail).
      type: str
    detail:
      description: What was found; for failures, the requests that were allowed.
      type: str
failed_count:
  description: Number of failed checks.
  returned: always
  type: int
passed_count:
  description: Number of passed checks.
  returned: always
  type: int
table:
  description: The checks as a plain-text table.
  returned: always
  type: str
"""

from ansible_collections.platykus.platform.plugins.module_utils._audit.run import audit_tenants, render_table
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import client_factory
from ansible_collections.platykus.platform.plugins.module_utils._core.module import platykus_module
from ansible_collections.platykus.platform.plugins.module_utils._tenants.ops import (
    TENANT_SET_ARGUMENT_SPEC,
    tenant_set_params,
)


def main() -> None:
    module = platykus_module(
        dict(
            TENANT_SET_ARGUMENT_SPEC,
            aws=dict(type="dict"),
            kubernetes=dict(type="bool", default=True),
            fail_on_violation=dict(type="bool", default=True),
        )
    )
    params = module.params
    connect = client_factory(params)
    try:
        report = audit_tenants(connect, aws=params["aws"], kubernetes=params["kubernetes"], **tenant_set_params(params))
    except PlatykusError as err:
        module.fail_json(msg=str(err))
    result = report.to_dict()
    if report.failed and params["fail_on_violation"]:
        module.fail_json(
            msg="isolation audit: %d of %d checks failed:\n%s"
            % (len(report.failed), len(report.checks), render_table(report.failed)),
            changed=False,
            **result,
        )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
