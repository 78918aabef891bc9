#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_aws_info
short_description: List the IAM identities made for the cluster's tenants
version_added: 0.3.0
description:
  - Lists the IAM users and roles named C(<cluster>-tenant-*) that carry the cluster's C(platykus:cluster) tag, with
    the tenant each was made for (tag C(platykus:tenant)) and a user's active access keys.
  - M(platykus.platform.tenant_audit) takes them as O(platykus.platform.tenant_audit#module:aws.identities) and fails
    check C(PLK-AWS-2) for each one whose tenant is no longer in the inventory (playbooks/verify-tenants.yml).
  - AWS credentials and the endpoint come from the environment as boto3 reads them (C(AWS_ENDPOINT_URL) on the lab).
author:
  - Platykus engineers (@platykus)
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Only reads.
options:
  cluster_name:
    description:
      - The cluster's name; tenants' identities are C(<cluster>-tenant-<tenant>).
    type: str
    required: true
  region:
    description:
      - The AWS region.
    type: str
    default: us-east-1
  endpoint_url:
    description:
      - Another AWS endpoint (the lab's); default from C(AWS_ENDPOINT_URL) or AWS itself.
    type: str
"""

EXAMPLES = r"""
- name: The tenants' IAM identities
  platykus.platform.tenant_aws_info:
    cluster_name: "{{ platykus_cluster_name }}"
  register: identities
"""

RETURN = r"""
identities:
  description: Each identity with C(name), C(kind) (user or role), C(tenant) and C(active_keys) (access key ids).
  returned: always
  type: list
  elements: dict
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws_offboard import leftover_identities
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws_onboard import boto3_clients


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            cluster_name=dict(type="str", required=True),
            region=dict(type="str", default="us-east-1"),
            endpoint_url=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        identities = leftover_identities(
            params["cluster_name"], boto3_clients(params["region"], params["endpoint_url"])
        )
    except PlatykusError as err:
        module.fail_json(msg=str(err), exception=traceback.format_exc())
    module.exit_json(changed=False, identities=identities)


if __name__ == "__main__":
    main()
