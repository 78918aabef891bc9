#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: app_info
short_description: Show a tenant's app as it runs
version_added: 0.2.0
description:
  - Like C(heroku ps) and C(heroku apps:info) - the app's processes with their replicas, ready pods and image,
    cron processes, autoscalers, URLs, the state of its certificate, its releases and its recent events.
  - Reads only, as whoever the kubeconfig names (the tenant's CI identity in C(playbooks/app-status.yml)).
author:
  - Platykus engineers (@platykus)
extends_documentation_fragment:
  - platykus.platform.kubeconfig
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only; nothing to compare.
options:
  spec:
    description:
      - The app spec; only its name, tenant and environment are used.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Show acme's shop
  platykus.platform.app_info:
    spec: {name: shop, tenant: acme, environment: dev}
"""

RETURN = r"""
release:
  description: The current release number (null before the first deploy).
  returned: success
  type: int
releases:
  description: The releases kept, newest first.
  returned: success
  type: list
  elements: dict
processes:
  description: Per Deployment its process name, replicas, ready and updated pods, image.
  returned: success
  type: list
  elements: dict
cron:
  description: Cron processes with their schedule and last run.
  returned: success
  type: list
  elements: dict
autoscalers:
  description: Per autoscaled process its bounds, current and desired replicas and metrics.
  returned: success
  type: list
  elements: dict
urls:
  description: The app's public URLs.
  returned: success
  type: list
  elements: str
certificate:
  description: Whether the app's certificate is ready, and until when (null without one).
  returned: success
  type: dict
events:
  description: The app's most recent events.
  returned: success
  type: list
  elements: str
exists:
  description: Whether the app has been deployed.
  returned: success
  type: bool
"""

import traceback

from ansible_collections.platykus.platform.plugins.module_utils._apps.status import app_status
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KUBE_ARGUMENT_SPEC, client_factory
from ansible_collections.platykus.platform.plugins.module_utils._core.module import platykus_module


def main() -> None:
    module = platykus_module(dict(spec=dict(type="dict", required=True), **KUBE_ARGUMENT_SPEC))
    try:
        result = app_status(client_factory(module.params), module.params["spec"])
    except PlatykusError as err:
        module.fail_json(msg=str(err), exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
