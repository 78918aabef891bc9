#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: msk_scram_secrets
short_description: The SASL/SCRAM secrets associated with an MSK cluster
version_added: 0.1.0
description:
  - Associates Secrets Manager secrets with an MSK cluster for SASL/SCRAM authentication
    (BatchAssociateScramSecret), or disassociates them (BatchDisassociateScramSecret).
  - community.aws.msk_cluster enables SASL/SCRAM on a cluster but associates no secret, and no
    amazon.aws or community.aws module does.
  - MSK accepts only secrets whose name starts with C(AmazonMSK_), encrypted with a customer managed KMS key.
author:
  - Platykus engineers (@platykus)
options:
  cluster:
    description: The MSK cluster's name.
    type: str
    required: true
  secrets:
    description: ARNs of the secrets (each holding C(username) and C(password)).
    type: list
    elements: str
    required: true
  purge:
    description: With O(state=present), also disassociate every secret not in O(secrets).
    type: bool
    default: false
  state:
    description: C(present) associates O(secrets), C(absent) disassociates them.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Reads the associated secrets and reports the change a real run would make.
  diff_mode:
    support: full
    description: Returns the associated secrets before and after.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Let the add-on's user log in to its MSK cluster
  platykus.platform.msk_scram_secrets:
    cluster: pk-3f2a9c01de
    secrets: ["{{ scram_secret.secret.arn }}"]
    purge: true
"""

RETURN = r"""
cluster_arn:
  description: The cluster's ARN (null when it does not exist).
  returned: always
  type: str
associated:
  description: Secrets this run associated (or would, in check mode).
  returned: always
  type: list
  elements: str
disassociated:
  description: Secrets this run disassociated (or would, in check mode).
  returned: always
  type: list
  elements: str
secrets:
  description: The secrets associated after the run.
  returned: always
  type: list
  elements: str
bootstrap:
  description: The brokers SASL/SCRAM clients connect to (C(host:9096,...)); null when the cluster does not exist.
  returned: always
  type: str
"""


from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.platykus.platform.plugins.module_utils._addons.aws_api import ensure_scram_secrets
from ansible_collections.platykus.platform.plugins.module_utils._aws.module import call_aws, clients, diff_result


def main() -> None:
    argument_spec = dict(
        cluster=dict(type="str", required=True),
        # ARNs of secrets, not secret values.
        secrets=dict(type="list", elements="str", required=True, no_log=False),
        purge=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    client = clients(module)("kafka")
    result = call_aws(
        module,
        "Failed to manage the SCRAM secrets of MSK cluster %s" % params["cluster"],
        lambda: ensure_scram_secrets(
            client, params["cluster"], params["secrets"], params["state"], params["purge"], module.check_mode
        ),
    )
    module.exit_json(**diff_result(module, result, "secrets"))


if __name__ == "__main__":
    main()
