#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acm_certificate_request
short_description: Request an ACM certificate validated by DNS
version_added: 0.1.0
description:
  - Requests (or finds, updates the tags of, or deletes) the Amazon-issued ACM certificate for exactly
    O(domain_name) and O(subject_alternative_names), validated by DNS, and returns the DNS records that
    validate it (write them with M(amazon.aws.route53)).
  - community.aws.acm_certificate only imports certificates; no bundled module requests one.
  - ACM certificates cannot change their names; other names mean another certificate, and the old one
    is left as it is (it may be in use).
author:
  - Platykus engineers (@platykus)
options:
  domain_name:
    description: The certificate's domain (C(apps.example.com) or C(*.apps.example.com)).
    type: str
    required: true
  subject_alternative_names:
    description: Further names the certificate covers (the domain is always one of them).
    type: list
    elements: str
    default: []
  tags:
    description: Tags on the certificate.
    type: dict
    default: {}
  purge_tags:
    description: Remove tags not listed in O(tags).
    type: bool
    default: true
  wait:
    description:
      - Wait until the certificate is issued (its validation records must be in the domain's zone), and
        fail when it is not within O(wait_timeout) seconds.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait).
    type: int
    default: 300
  state:
    description: present requests the certificate; absent deletes every live one for these names.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Reads the certificates and reports exactly what a real run would do (no validation records before the request).
  diff_mode:
    support: none
    description: No diff is returned.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Request the tenant's wildcard certificate
  platykus.platform.acm_certificate_request:
    domain_name: acme.apps.example.com
    subject_alternative_names: ["*.acme.apps.example.com"]
    tags: {"platykus:tenant": acme}
  register: cert

- name: Write its validation records
  amazon.aws.route53:
    zone: apps.example.com
    record: "{{ item.name }}"
    type: "{{ item.type }}"
    value: "{{ item.value }}"
    ttl: 300
    overwrite: true
  loop: "{{ cert.validation_records }}"
"""

RETURN = r"""
arn:
  description: The certificate's ARN (null in check mode before it is requested, and when none was found to delete).
  returned: always
  type: str
status:
  description: ACM's status of the certificate (PENDING_VALIDATION, ISSUED).
  returned: always
  type: str
validation_records:
  description: The DNS records that validate the certificate (one per distinct record).
  returned: always
  type: list
  elements: dict
  contains:
    domain:
      description: The name the record validates.
      type: str
    name:
      description: The record's name.
      type: str
    type:
      description: The record's type (CNAME).
      type: str
    value:
      description: The record's value.
      type: str
actions:
  description: What was (or in check mode, would be) done.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.platykus.platform.plugins.module_utils._aws.acm import ensure_certificate
from ansible_collections.platykus.platform.plugins.module_utils._aws.module import call_aws, clients


def main() -> None:
    argument_spec = dict(
        domain_name=dict(type="str", required=True),
        subject_alternative_names=dict(type="list", elements="str", default=[]),
        tags=dict(type="dict", default={}),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    acm = clients(module)("acm")
    failure = "Failed to request the ACM certificate for %s" % module.params["domain_name"]
    module.exit_json(
        **call_aws(module, failure, lambda: ensure_certificate(acm, module.params, check=module.check_mode))
    )


if __name__ == "__main__":
    main()
