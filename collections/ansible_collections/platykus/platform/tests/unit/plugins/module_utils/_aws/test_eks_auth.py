# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64
import datetime
import urllib.parse

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._aws.eks_auth import (
    exec_credential,
    exec_user,
    get_token,
    render_kubeconfig,
)

boto3 = pytest.importorskip("boto3")


def test_token_is_a_presigned_get_caller_identity_for_the_cluster():
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="eu-west-1"
    )
    token = get_token(session, "platykus", "eu-west-1")
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    encoded = token[len("k8s-aws-v1.") :]
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    parsed = urllib.parse.urlparse(url)
    query = urllib.parse.parse_qs(parsed.query)
    assert parsed.netloc == "sts.eu-west-1.amazonaws.com"
    assert query["Action"] == ["GetCallerIdentity"] and query["X-Amz-Expires"] == ["60"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")
    assert query["X-Amz-Credential"][0].startswith("AKIDEXAMPLE/")


def test_exec_credential_expires_before_the_token_does():
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cred = exec_credential("k8s-aws-v1.x", now)
    assert cred["status"] == {"expirationTimestamp": "2026-01-01T00:14:00Z", "token": "k8s-aws-v1.x"}


def test_kubeconfig_names_everything_after_the_cluster_arn():
    cluster = {
        "arn": "arn:aws:eks:eu-west-1:1:cluster/p",
        "endpoint": "https://e",
        "certificateAuthority": {"data": "Q0E="},
    }
    config = render_kubeconfig(cluster, exec_user("p", "eu-west-1", "/usr/bin/python3", "/c"))
    assert config["current-context"] == cluster["arn"]
    assert config["clusters"][0]["cluster"] == {"server": "https://e", "certificate-authority-data": "Q0E="}
    user = config["users"][0]["user"]["exec"]
    assert user["args"][-2:] == ["p", "eu-west-1"] and user["env"] == [{"name": "PYTHONPATH", "value": "/c"}]
