# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The AWS connection options of the modules that are not AnsibleAWSModules (their argument spec:
    ``_aws.module.AWS_CREDENTIALS_SPEC`` and ``AWS_ENDPOINT_SPEC``). The names, aliases and environment
    variables are amazon.aws's; the clients are made by amazon.aws and retried with its AWSRetry."""

    # platykus.platform.aws: who calls AWS.
    DOCUMENTATION = r"""
options:
  profile:
    description:
      - The AWS profile (a section of the AWS config and credentials files) to use.
      - When not set, C(AWS_PROFILE), then C(AWS_DEFAULT_PROFILE) are used.
      - Not together with O(access_key), O(secret_key) or O(session_token).
    type: str
    aliases: [aws_profile]
  access_key:
    description:
      - The AWS access key ID.
      - When not set, C(AWS_ACCESS_KEY_ID), then C(AWS_ACCESS_KEY) are used; without any, boto3's own chain
        (config files, the instance or container identity).
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - The AWS secret access key.
      - When not set, C(AWS_SECRET_ACCESS_KEY), then C(AWS_SECRET_KEY) are used.
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - The AWS session token of temporary credentials.
      - When not set, C(AWS_SESSION_TOKEN) is used.
    type: str
    aliases: [aws_session_token]
notes:
  - The AWS clients are made by amazon.aws from these options and every call is retried with amazon.aws's
    C(AWSRetry.jittered_backoff) (throttling and AWS's internal errors).
"""

    # platykus.platform.aws.endpoint: where.
    ENDPOINT = r"""
options:
  region:
    description:
      - The AWS region.
    type: str
    default: us-east-1
    aliases: [aws_region]
  endpoint_url:
    description:
      - Another AWS endpoint (the lab's emulator, a private endpoint).
      - When not set, C(AWS_URL), then boto3's C(AWS_ENDPOINT_URL), then AWS itself.
    type: str
    aliases: [aws_endpoint_url]
"""
