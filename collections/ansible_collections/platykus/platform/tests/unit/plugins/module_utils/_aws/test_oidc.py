# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._aws.oidc import ensure_provider

URL = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"
ARN = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"


class FakeIam:
    """The IAM OIDC provider calls, in memory; records every write."""

    def __init__(self):
        self.providers = {}
        self.writes = []

    def list_open_id_connect_providers(self):
        return {"OpenIDConnectProviderList": [{"Arn": arn} for arn in self.providers]}

    def get_open_id_connect_provider(self, OpenIDConnectProviderArn):
        return self.providers[OpenIDConnectProviderArn]

    def create_open_id_connect_provider(self, Url, ClientIDList, Tags, ThumbprintList=()):
        self.writes.append("create")
        self.providers[ARN] = {
            "ClientIDList": list(ClientIDList),
            "ThumbprintList": list(ThumbprintList),
            "Tags": list(Tags),
        }
        return {"OpenIDConnectProviderArn": ARN}

    def delete_open_id_connect_provider(self, OpenIDConnectProviderArn):
        self.writes.append("delete")
        del self.providers[OpenIDConnectProviderArn]

    def add_client_id_to_open_id_connect_provider(self, OpenIDConnectProviderArn, ClientID):
        self.writes.append("add")
        self.providers[OpenIDConnectProviderArn]["ClientIDList"].append(ClientID)

    def remove_client_id_from_open_id_connect_provider(self, OpenIDConnectProviderArn, ClientID):
        self.writes.append("remove")
        self.providers[OpenIDConnectProviderArn]["ClientIDList"].remove(ClientID)

    def tag_open_id_connect_provider(self, OpenIDConnectProviderArn, Tags):
        self.writes.append("tag")
        current = {t["Key"]: t["Value"] for t in self.providers[OpenIDConnectProviderArn]["Tags"]}
        current.update({t["Key"]: t["Value"] for t in Tags})
        self.providers[OpenIDConnectProviderArn]["Tags"] = [{"Key": k, "Value": v} for k, v in current.items()]

    def untag_open_id_connect_provider(self, OpenIDConnectProviderArn, TagKeys):
        self.writes.append("untag")
        tags = self.providers[OpenIDConnectProviderArn]["Tags"]
        self.providers[OpenIDConnectProviderArn]["Tags"] = [t for t in tags if t["Key"] not in TagKeys]


def want(**changes):
    base = {
        "url": URL,
        "client_ids": ["sts.amazonaws.com"],
        "thumbprints": [],
        "tags": {"a": "1"},
        "purge_tags": True,
        "state": "present",
    }
    return dict(base, **changes)


@pytest.mark.parametrize("check", [True, False])
def test_create_then_nothing_to_do(check):
    iam = FakeIam()
    result = ensure_provider(iam, want(), check=check)
    assert result["changed"] and result["actions"] == ["create"]
    assert iam.writes == ([] if check else ["create"])
    if not check:
        again = ensure_provider(iam, want())
        assert again == {"changed": False, "arn": ARN, "actions": []}


@pytest.mark.parametrize("check", [True, False])
def test_modify_client_ids_and_tags(check):
    iam = FakeIam()
    ensure_provider(iam, want())
    iam.writes.clear()
    result = ensure_provider(iam, want(client_ids=["other"], tags={"b": "2"}), check=check)
    assert result["actions"] == ["add client id other", "remove client id sts.amazonaws.com", "untag a", "tag b"]
    assert iam.writes == ([] if check else ["add", "remove", "untag", "tag"])
    if not check:
        assert not ensure_provider(iam, want(client_ids=["other"], tags={"b": "2"}))["changed"]


@pytest.mark.parametrize("check", [True, False])
def test_delete_then_nothing_to_do(check):
    iam = FakeIam()
    ensure_provider(iam, want())
    result = ensure_provider(iam, want(state="absent"), check=check)
    assert result["changed"] and (ARN in iam.providers) == check
    if not check:
        assert not ensure_provider(iam, want(state="absent"))["changed"]
