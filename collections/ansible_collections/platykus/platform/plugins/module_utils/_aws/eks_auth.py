# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EKS authentication without the AWS CLI: the kubeconfig from DescribeCluster, and the token.

The token is what ``aws eks get-token`` prints: a presigned STS GetCallerIdentity URL, signed
with the caller's credentials and the header ``x-k8s-aws-id: <cluster>``, base64url-encoded
after ``k8s-aws-v1.``. Run as ``python -m ...module_utils._aws.eks_auth <cluster> <region>`` it
prints an ExecCredential, so the kubeconfig's exec entry needs only Python and boto3.
"""

from __future__ import annotations

import base64
import datetime
import json
import sys
from collections.abc import Mapping
from typing import Any

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_HEADER = "x-k8s-aws-id"
# The API server accepts presigned URLs up to 15 minutes old; refresh well before.
TOKEN_LIFETIME = datetime.timedelta(minutes=14)
EXEC_API = "client.authentication.k8s.io/v1beta1"
MODULE_PATH = "ansible_collections.platykus.platform.plugins.module_utils._aws.eks_auth"


def get_token(session: Any, cluster: str, region: str) -> str:
    """The bearer token for ``cluster`` as the session's identity (no call is made: the URL is signed locally)."""
    from botocore.signers import RequestSigner

    sts = session.client("sts", region_name=region)
    signer = RequestSigner(
        sts.meta.service_model.service_id, region, "sts", "v4", session.get_credentials(), session.events
    )
    request = {
        "method": "GET",
        "url": "https://sts.%s.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15" % region,
        "body": {},
        "headers": {CLUSTER_HEADER: cluster},
        "context": {},
    }
    url = signer.generate_presigned_url(request, region_name=region, expires_in=60, operation_name="")
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def exec_credential(token: str, now: datetime.datetime) -> dict[str, Any]:
    expiry = (now + TOKEN_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "kind": "ExecCredential",
        "apiVersion": EXEC_API,
        "spec": {},
        "status": {"expirationTimestamp": expiry, "token": token},
    }


def exec_user(cluster: str, region: str, python: str, collections_path: str) -> dict[str, Any]:
    """The kubeconfig user that runs this file for a fresh token on every use."""
    return {
        "exec": {
            "apiVersion": EXEC_API,
            "command": python,
            "args": ["-m", MODULE_PATH, cluster, region],
            "env": [{"name": "PYTHONPATH", "value": collections_path}],
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }


def render_kubeconfig(cluster: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    """A kubeconfig with one cluster, user and context named by the cluster's ARN (as the AWS CLI does)."""
    name = cluster["arn"]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": cluster["endpoint"],
                    "certificate-authority-data": cluster["certificateAuthority"]["data"],
                },
            }
        ],
        "users": [{"name": name, "user": dict(user)}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }


def main(argv: list[str]) -> int:
    import boto3

    cluster, region = argv[0], argv[1]
    token = get_token(boto3.session.Session(), cluster, region)
    json.dump(exec_credential(token, datetime.datetime.now(datetime.UTC)), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
