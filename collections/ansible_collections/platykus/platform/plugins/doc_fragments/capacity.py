# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The capacity check of the tenant modules: all tenants' quotas against the nodes' allocatable.
    DOCUMENTATION = r"""
options:
  overcommit:
    description:
      - Ratio of the nodes' allocatable capacity that tenant quotas may add up to, per resource
        (C(cpu), C(memory), C(pods)). Each defaults to 1.0.
    type: dict
    default: {}
  capacity_policy:
    description:
      - What to do when the quotas exceed the capacity; V(fail) stops before writing, V(warn) warns and applies.
    type: str
    choices: [fail, warn]
    default: fail
"""
