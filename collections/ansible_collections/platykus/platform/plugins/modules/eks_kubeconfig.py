#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eks_kubeconfig
short_description: Write a kubeconfig for an EKS cluster from DescribeCluster (no AWS CLI)
version_added: 0.1.0
description:
  - Reads the cluster's endpoint and CA with DescribeCluster and writes a kubeconfig with one context,
    named by the cluster's ARN. The user runs the collection's own token code (the equivalent of
    C(aws eks get-token)) through an exec entry, unless O(user) gives another identity.
author:
  - Platykus engineers (@platykus)
options:
  name:
    description: The EKS cluster's name.
    type: str
    required: true
  path:
    description: Where to write the kubeconfig (mode 0600; replaced when it differs).
    type: path
    required: true
  python:
    description: The Python (with boto3) the exec entry runs.
    type: str
    required: true
  collections_path:
    description: The folder holding C(ansible_collections/platykus/platform), put on the exec entry's PYTHONPATH.
    type: path
    required: true
  user:
    description:
      - A kubeconfig user entry to write instead of the exec entry (for example client certificates of a
        break-glass identity). Its values are not logged.
    type: dict
attributes:
  check_mode:
    support: full
    description: Reads the cluster and compares the file; writes nothing.
  diff_mode:
    support: none
    description: No diff is returned.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Kubeconfig for the platform cluster
  platykus.platform.eks_kubeconfig:
    name: platykus
    path: "{{ platykus_kubeconfig }}"
    python: "{{ ansible_playbook_python }}"
    collections_path: "{{ playbook_dir }}/../collections"
"""

RETURN = r"""
endpoint:
  description: The API server's URL.
  returned: success
  type: str
context:
  description: The context written (the cluster's ARN).
  returned: success
  type: str
"""

import json
import os

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.platykus.platform.plugins.module_utils._aws.eks_auth import exec_user, render_kubeconfig
from ansible_collections.platykus.platform.plugins.module_utils._aws.module import call_aws, clients


def _read(path: str) -> tuple[bool, dict | None]:
    """(exists, the kubeconfig this module wrote there or None)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return True, json.load(handle)
    except FileNotFoundError:
        return False, None
    except (OSError, ValueError):
        return True, None


def main() -> None:
    argument_spec = dict(
        name=dict(type="str", required=True),
        path=dict(type="path", required=True),
        python=dict(type="str", required=True),
        collections_path=dict(type="path", required=True),
        user=dict(type="dict", no_log=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    eks = clients(module)("eks")
    failure = "Failed to describe EKS cluster %s" % p["name"]
    cluster = call_aws(module, failure, lambda: eks.describe_cluster(name=p["name"])["cluster"])
    user = p["user"] or exec_user(p["name"], module.region, p["python"], p["collections_path"])
    wanted = render_kubeconfig(cluster, user)
    exists, current = _read(p["path"])
    if exists and (current or {}).get("current-context") != wanted["current-context"]:
        module.fail_json(
            msg="Failed to write the kubeconfig: %s holds another kubeconfig; set path to a file of "
            "its own for cluster %s" % (p["path"], p["name"])
        )
    changed = current != wanted
    if changed and not module.check_mode:
        os.makedirs(os.path.dirname(os.path.abspath(p["path"])), exist_ok=True)
        fd = os.open(p["path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(wanted, handle, indent=2)
    module.exit_json(changed=changed, endpoint=cluster["endpoint"], context=cluster["arn"])


if __name__ == "__main__":
    main()
