#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_oidc_provider
short_description: The IAM OpenID Connect provider for an EKS cluster's issuer (IRSA)
version_added: 0.1.0
description:
  - Creates, updates (client ids, thumbprints, tags) or deletes the IAM OIDC identity provider whose
    URL is the cluster's OIDC issuer, so IAM roles can trust the cluster's ServiceAccounts (IRSA).
  - Neither amazon.aws nor community.aws has a module for it.
author:
  - Platykus engineers (@platykus)
options:
  url:
    description:
      - The issuer URL (C(https://oidc.eks.<region>.amazonaws.com/id/<id>)); the provider is found by its host and path.
      - Exactly one of O(url) and O(cluster) is required.
    type: str
  cluster:
    description:
      - The EKS cluster whose OIDC issuer the provider is for (read with DescribeCluster).
      - In check mode, a cluster that does not exist yet means the provider would be created.
    type: str
  client_ids:
    description: The audiences (client ids) the provider accepts.
    type: list
    elements: str
    default: [sts.amazonaws.com]
  thumbprints:
    description:
      - Server certificate thumbprints. AWS no longer needs them for EKS issuers; empty leaves them as they are.
    type: list
    elements: str
    default: []
  tags:
    description: Tags on the provider.
    type: dict
    default: {}
  purge_tags:
    description: Remove tags not listed in O(tags).
    type: bool
    default: true
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Reads the provider and reports exactly the calls a real run would make.
  diff_mode:
    support: none
    description: No diff is returned.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Trust the cluster's ServiceAccounts
  platykus.platform.iam_oidc_provider:
    cluster: platykus
    tags: {"platykus:cluster": platykus}
"""

RETURN = r"""
url:
  description: The issuer URL (null in check mode when the cluster does not exist yet).
  returned: always
  type: str
arn:
  description: The provider's ARN (null in check mode before it exists, and after deletion of a missing one).
  returned: always
  type: str
actions:
  description: What was (or in check mode, would be) done.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.platykus.platform.plugins.module_utils._aws.module import call_aws, clients
from ansible_collections.platykus.platform.plugins.module_utils._aws.oidc import cluster_issuer, ensure_provider


def main() -> None:
    argument_spec = dict(
        url=dict(type="str"),
        cluster=dict(type="str"),
        client_ids=dict(type="list", elements="str", default=["sts.amazonaws.com"]),
        thumbprints=dict(type="list", elements="str", default=[]),
        tags=dict(type="dict", default={}),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_one_of=[("url", "cluster")],
        mutually_exclusive=[("url", "cluster")],
    )
    params = dict(module.params)
    client = clients(module)
    failure = "Failed to manage the IAM OIDC provider for %s" % (params["url"] or params["cluster"])
    if params["cluster"]:
        params["url"] = call_aws(module, failure, lambda: cluster_issuer(client("eks"), params["cluster"]))
    if params["url"] is None and params["state"] == "present" and not module.check_mode:
        module.fail_json(
            msg="Failed to manage the IAM OIDC provider: EKS cluster %s does not exist; create it first"
            % params["cluster"]
        )
    if params["url"] is None:  # check mode before the cluster exists, or nothing left to delete
        present = params["state"] == "present"
        module.exit_json(changed=present, url=None, arn=None, actions=["create"] if present else [])
    result = call_aws(module, failure, lambda: ensure_provider(client("iam"), params, check=module.check_mode))
    module.exit_json(url=params["url"], **result)


if __name__ == "__main__":
    main()
