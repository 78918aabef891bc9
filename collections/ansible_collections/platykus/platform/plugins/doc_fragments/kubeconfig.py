# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to the kubeconfig of the cluster to talk to.
      - When not set, C(K8S_AUTH_KUBECONFIG), then C(KUBECONFIG), then C(~/.kube/config) are used.
    type: path
  context:
    description:
      - The kubeconfig context to use. The current context when not set.
    type: str
  request_timeout:
    description:
      - Seconds to wait for the API server to answer one request (the connect timeout is the smaller of this and 10).
      - A request that times out is retried (see O(request_retries)); the error then names the object, the verb and the cause.
    type: float
    default: 30.0
  request_retries:
    description:
      - How many times a request is retried, with exponential backoff from 0.5 seconds, when the API server
        does not answer or answers 429, 502, 503 or 504.
    type: int
    default: 3
requirements:
  - kubernetes >= 30.0.0
"""
