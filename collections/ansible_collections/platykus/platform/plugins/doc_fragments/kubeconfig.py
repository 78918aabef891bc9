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
requirements:
  - kubernetes >= 30.0.0
"""
