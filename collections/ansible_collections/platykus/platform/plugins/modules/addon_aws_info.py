#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: addon_aws_info
short_description: The aws add-ons a cluster holds on AWS, found by their platykus tags
version_added: 0.1.0
description:
  - Lists the RDS instances, ElastiCache clusters, MSK clusters and S3 buckets tagged
    C(platykus:managed-by=platykus), C(platykus:cluster=<cluster>) and C(platykus:addon), each
    planned for removal as playbooks/tasks/addon_aws.yml removes an add-on.
  - playbooks/aws-teardown.yml refuses while any exist, or removes them first with C(-e force=true).
  - Reads only; resources being deleted are left out.
author:
  - Platykus engineers (@platykus)
options:
  cluster:
    description: The cluster's name (C(platykus_cluster_name)), the value of the C(platykus:cluster) tag.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only; there is nothing to diff.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Find the cluster's add-ons on AWS
  platykus.platform.addon_aws_info:
    cluster: platykus-aws
  register: found
"""

RETURN = r"""
addons:
  description: The add-ons found, sorted by tenant and name, in the shape of the addon_aws_plan filter's items.
  returned: always
  type: list
  elements: dict
  sample: [{"tenant": "acme", "name": "orders-db", "type": "postgresql", "id": "pk-acme-orders-db"}]
described:
  description: One line per add-on, C(<tenant>/<name> (<type>, <id>)).
  returned: always
  type: list
  elements: str
"""


from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.platykus.platform.plugins.module_utils._addons.aws_found import describe, find_addons
from ansible_collections.platykus.platform.plugins.module_utils._aws.module import call_aws, clients


def main() -> None:
    argument_spec = dict(cluster=dict(type="str", required=True))
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    cluster = module.params["cluster"]
    failure = "Failed to list the add-ons of cluster %s" % cluster
    addons = call_aws(module, failure, lambda: find_addons(clients(module), cluster))
    module.exit_json(changed=False, addons=addons, described=describe(addons))


if __name__ == "__main__":
    main()
