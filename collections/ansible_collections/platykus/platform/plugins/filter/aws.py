# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the AWS inventory into the stack spec and IRSA trust (logic in module_utils/_aws_stack.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.platykus.platform.plugins.module_utils._aws_isolation import audit as isolation_audit
from ansible_collections.platykus.platform.plugins.module_utils._aws_stack import (
    irsa_trust,
    service_trust,
    stack_spec,
)
from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenant_aws import TenantAws

DOCUMENTATION = r"""
name: aws_stack
short_description: The AWS stack under the platform (network, EKS, IRSA, tenants), validated
description:
  - Validates the inventory's AWS settings (zones in the region, subnet CIDRs inside the VPC and not
    overlapping, a supported EKS version, catalog IRSA roles that exist) and returns the spec the
    aws_* roles apply. Every problem is reported at once, naming the variable, before any AWS call.
  - The same module provides C(aws_irsa_trust) (issuer, account_id, subjects), C(aws_service_trust) (service)
    and C(aws_tenant_isolation) (the stack's tenants, then the amazon.aws.iam_policy_info and iam_role_info
    results of their roles in the same order; returns the isolation audit's AWS side, check PLK-AWS-1).
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


def _aws_tenant_isolation(tenants, policies=None, roles=None):
    """The stack's tenant entries (their ``scope``) with, in the same order, the results of
    amazon.aws.iam_policy_info (``policies``: inline policy documents) and amazon.aws.iam_role_info
    (``roles``: attached managed policies) for their roles."""
    import json

    tenants = list(tenants or [])
    policies = list(policies or [{}] * len(tenants))
    roles = list(roles or [{}] * len(tenants))
    if not len(tenants) == len(policies) == len(roles):
        raise AnsibleFilterError("aws_tenant_isolation: one policies and one roles result per tenant")
    entries = []
    for tenant, inline, role in zip(tenants, policies, roles):
        docs = [p.get("policy_document") for p in inline.get("policies") or []]
        attached = [a.get("policy_arn") for r in role.get("iam_roles") or [] for a in r.get("attached_policies") or []]
        entries.append(
            {
                "scope": TenantAws(**tenant["scope"]),
                "policies": [json.loads(d) if isinstance(d, str) else d for d in docs if d],
                "attached": attached,
            }
        )
    return isolation_audit(entries)


class FilterModule:
    """platykus.platform AWS filters."""

    def filters(self):
        return {
            "aws_stack": _aws_stack,
            "aws_irsa_trust": _aws_irsa_trust,
            "aws_service_trust": service_trust,
            "aws_tenant_isolation": _aws_tenant_isolation,
        }
