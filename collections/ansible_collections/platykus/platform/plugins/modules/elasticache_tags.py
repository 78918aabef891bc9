#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: elasticache_tags
short_description: Tags of an ElastiCache cache cluster
version_added: 0.1.0
description:
  - Sets the tags of an ElastiCache cache cluster (AddTagsToResource, RemoveTagsFromResource).
  - community.aws.elasticache makes the cluster but takes no tags, and no amazon.aws or
    community.aws module tags ElastiCache resources.
author:
  - Platykus engineers (@platykus)
options:
  name:
    description: The cache cluster id.
    type: str
    required: true
  tags:
    description: The tags the cluster must carry.
    type: dict
    required: true
  purge_tags:
    description: Remove tags not listed in O(tags).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads the tags and reports the change a real run would make; a cluster not made yet would be tagged.
  diff_mode:
    support: full
    description: Returns the tags before and after.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Tag the add-on's cache
  platykus.platform.elasticache_tags:
    name: pk-3f2a9c01de
    tags:
      "platykus:tenant": acme
      "platykus:cost-center": cc-1001
"""

RETURN = r"""
arn:
  description: The cluster's ARN (null in check mode before the cluster exists).
  returned: always
  type: str
tags:
  description: The cluster's tags after the run (in check mode, as a real run would leave them).
  returned: always
  type: dict
"""


from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.platykus.platform.plugins.module_utils._addons.aws_api import ensure_cache_tags
from ansible_collections.platykus.platform.plugins.module_utils._aws.module import call_aws, clients, diff_result


def main() -> None:
    argument_spec = dict(
        name=dict(type="str", required=True),
        tags=dict(type="dict", required=True),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    client = clients(module)("elasticache")
    result = call_aws(
        module,
        "Failed to tag ElastiCache cluster %s" % params["name"],
        lambda: ensure_cache_tags(client, params["name"], params["tags"], params["purge_tags"], module.check_mode),
    )
    module.exit_json(**diff_result(module, result, "tags"))


if __name__ == "__main__":
    main()
