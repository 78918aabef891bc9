# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aws provider's plan for add-on requests (logic in module_utils/_addons/aws.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.platykus.platform.plugins.module_utils._addons.aws import aws_plan
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

DOCUMENTATION = r"""
name: addon_aws_plan
short_description: What AWS is asked for, per add-on of the aws provider
description:
  - Validates the add-on requests against the catalog (every problem, with its field) and returns,
    for each add-on whose type the catalog serves with the C(aws) provider, the RDS, ElastiCache or
    S3 parameters, the Secrets Manager name under the tenant's prefix, and the tags (tenant, cost centre).
  - Kafka add-ons get their MSK cluster, configuration, security group and SCRAM secret names.
options:
  _input:
    description: The add-on requests (name, tenant, environment, type, plan).
    type: list
    elements: dict
    required: true
  catalog:
    description: The add-on catalog (platykus_addons).
    type: dict
    required: true
  tenants:
    description: The tenant specs (platykus_tenants), for their cost centres.
    type: list
    elements: dict
  cluster:
    description: The EKS cluster's name (platykus_cluster_name), tagged and in the security groups' names.
    type: str
"""

EXAMPLES = r"""
- name: Plan the aws add-ons
  ansible.builtin.set_fact:
    planned: "{{ requests | platykus.platform.addon_aws_plan(platykus_addons, platykus_tenants, platykus_cluster_name) }}"
"""

RETURN = r"""
_value:
  description: One dict per aws add-on (id, engine, engine_version, instance_class, storage_gib, secret_name, tags, ...).
  type: list
  elements: dict
"""


def _addon_aws_plan(requests, catalog, tenants=(), cluster=None):
    try:
        return aws_plan(requests, catalog, tenants, cluster)
    except PlatykusError as err:
        raise AnsibleFilterError(str(err)) from err


class FilterModule:
    """platykus.platform add-on filters."""

    def filters(self):
        return {"addon_aws_plan": _addon_aws_plan}
