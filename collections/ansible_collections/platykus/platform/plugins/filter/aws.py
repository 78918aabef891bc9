# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the AWS inventory into the stack spec and IRSA trust (logic in module_utils/_platform/aws_stack.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.platykus.platform.plugins.module_utils._audit.aws import audit as isolation_audit
from ansible_collections.platykus.platform.plugins.module_utils._audit.aws import entries as isolation_entries
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._platform.aws_stack import (
    irsa_trust,
    service_trust,
    stack_spec,
    tenant_identity,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import TenantAws, tenant_policy

DOCUMENTATION = r"""
name: aws_stack
short_description: The AWS stack under the platform (network, EKS, IRSA, tenants), validated
description:
  - Validates the inventory's AWS settings (zones in the region, subnet CIDRs inside the VPC and not
    overlapping, a supported EKS version, catalog IRSA roles that exist) and returns the spec the
    aws_* roles apply. Every problem is reported at once, naming the variable, before any AWS call.
  - The same module provides C(aws_irsa_trust) (issuer, account_id, subjects), C(aws_service_trust) (service)
    and C(aws_tenant_isolation) (the stack's tenants, then the amazon.aws.iam_policy_info and iam_role_info
    results of their roles in the same order, then the tenants' hosted zone ids by tenant and the platform
    zone's id; returns the isolation audit's AWS side, check PLK-AWS-1) and C(aws_tenant_policy) (a tenant
    entry and its hosted zone id; the tenant role's policy) and C(aws_tenant_identities) (tenant specs, cluster,
    account id, region, zone; each tenant's role, domain and scope as aws_stack names them).
options:
  _input:
    description: The host's variables, normally C(hostvars[inventory_hostname]).
    type: dict
    required: true
  releases:
    description: The service plan (platykus.platform.service_plan for provider aws).
    type: list
    elements: dict
    required: true
  tenants:
    description: The tenant specs (platykus_tenants).
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Plan the AWS stack
  ansible.builtin.set_fact:
    platykus_aws_stack: "{{ hostvars[inventory_hostname] | platykus.platform.aws_stack(platykus_service_plan, platykus_tenants) }}"
"""

RETURN = r"""
_value:
  description: account_id, region, network, cluster, irsa, buckets, karpenter and tenants.
  type: dict
"""


def _aws_stack(settings, releases, tenants=None):
    try:
        return stack_spec(dict(settings), list(releases or []), list(tenants or []))
    except PlatykusError as err:
        raise AnsibleFilterError(str(err)) from err


def _aws_irsa_trust(issuer, account_id, subjects):
    try:
        return irsa_trust(str(issuer), str(account_id), [tuple(s) for s in subjects])
    except PlatykusError as err:
        raise AnsibleFilterError(str(err)) from err


def _aws_tenant_isolation(tenants, policies=None, roles=None, zone_ids=None, platform_zone_id=None):
    """The stack's tenant entries (their ``scope``) with, in the same order, the results of
    amazon.aws.iam_policy_info (``policies``: inline policy documents) and amazon.aws.iam_role_info
    (``roles``: attached managed policies) for their roles; ``zone_ids``: tenant -> its hosted zone id;
    ``platform_zone_id``: the platform's zone, which no tenant may write."""
    try:
        return isolation_audit(isolation_entries(tenants, policies, roles, zone_ids), platform_zone_id)
    except PlatykusError as err:
        raise AnsibleFilterError("aws_tenant_isolation: %s" % err) from err


def _aws_tenant_identities(tenants, cluster, account_id, region, zone):
    """Per tenant spec its AWS identity as aws_stack names it (tenant, role, domain, scope): what the
    isolation audit reads back from IAM outside provisioning (verify-tenants.yml)."""
    try:
        return [
            tenant_identity(str(t["name"]), str(cluster), str(account_id), str(region), str(zone))
            for t in tenants or []
        ]
    except (KeyError, TypeError) as err:
        raise AnsibleFilterError("aws_tenant_identities: every tenant needs a name (%s)" % err) from err


def _aws_tenant_policy(tenant, zone_id=None):
    """The tenant's policy (a tenant entry of aws_stack) with the records of its hosted zone."""
    return tenant_policy(TenantAws(**tenant["scope"]), zone_id or None)


class FilterModule:
    """platykus.platform AWS filters."""

    def filters(self):
        return {
            "aws_stack": _aws_stack,
            "aws_irsa_trust": _aws_irsa_trust,
            "aws_service_trust": service_trust,
            "aws_tenant_isolation": _aws_tenant_isolation,
            "aws_tenant_policy": _aws_tenant_policy,
            "aws_tenant_identities": _aws_tenant_identities,
        }
