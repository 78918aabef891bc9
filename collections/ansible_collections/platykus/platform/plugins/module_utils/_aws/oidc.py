# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IAM OpenID Connect provider of an EKS cluster's issuer (no bundled module manages it).

Takes a boto3 IAM client, reads before it writes, and predicts in check mode exactly what a real
run would change. AWS errors (botocore ClientError) pass through to the module, which reports
them in the amazon.aws style.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def issuer_host(issuer: str) -> str:
    """The issuer URL without its scheme and trailing slash, as IAM names the provider."""
    return re.sub(r"^https://", "", issuer).rstrip("/")


def cluster_issuer(eks: Any, cluster: str) -> str | None:
    """The cluster's OIDC issuer URL; None when the cluster does not exist."""
    try:
        return eks.describe_cluster(name=cluster)["cluster"]["identity"]["oidc"]["issuer"]
    except eks.exceptions.ResourceNotFoundException:
        return None


def find_provider(iam: Any, url: str) -> str | None:
    """The ARN of the provider for ``url``'s host, or None."""
    host = issuer_host(url)
    for entry in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
        if entry["Arn"].endswith(":oidc-provider/" + host):
            return entry["Arn"]
    return None


def _current(iam: Any, arn: str) -> dict[str, Any]:
    found = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    return {
        "client_ids": sorted(found.get("ClientIDList") or []),
        "thumbprints": sorted(found.get("ThumbprintList") or []),
        "tags": {t["Key"]: t["Value"] for t in found.get("Tags") or []},
    }


def _plan(arn: str, have: Mapping[str, Any], want: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """What brings client ids, thumbprints and tags to ``want``: (description, IAM call, arguments)."""
    steps = []
    for cid in sorted(set(want["client_ids"]) - set(have["client_ids"])):
        steps.append(("add client id " + cid, "add_client_id_to_open_id_connect_provider", {"ClientID": cid}))
    for cid in sorted(set(have["client_ids"]) - set(want["client_ids"])):
        steps.append(("remove client id " + cid, "remove_client_id_from_open_id_connect_provider", {"ClientID": cid}))
    if want["thumbprints"] and want["thumbprints"] != have["thumbprints"]:
        steps.append(
            ("set thumbprints", "update_open_id_connect_provider_thumbprint", {"ThumbprintList": want["thumbprints"]})
        )
    stale = sorted(set(have["tags"]) - set(want["tags"])) if want["purge_tags"] else []
    if stale:
        steps.append(("untag " + ", ".join(stale), "untag_open_id_connect_provider", {"TagKeys": stale}))
    missing = {k: v for k, v in want["tags"].items() if have["tags"].get(k) != v}
    if missing:
        tags = [{"Key": k, "Value": v} for k, v in sorted(missing.items())]
        steps.append(("tag " + ", ".join(sorted(missing)), "tag_open_id_connect_provider", {"Tags": tags}))
    return [(text, call, dict(args, OpenIDConnectProviderArn=arn)) for text, call, args in steps]


def ensure_provider(iam: Any, want: Mapping[str, Any], check: bool = False) -> dict[str, Any]:
    """``want``: url, client_ids, thumbprints, tags, purge_tags, state. Returns changed, arn, actions."""
    arn = find_provider(iam, want["url"])
    if want["state"] == "absent":
        if arn and not check:
            iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        return {"changed": bool(arn), "arn": arn, "actions": ["delete"] if arn else []}
    want = dict(want, client_ids=sorted(want["client_ids"]), thumbprints=sorted(want["thumbprints"] or []))
    if arn is None:
        if check:
            return {"changed": True, "arn": None, "actions": ["create"]}
        args = {
            "Url": "https://" + issuer_host(want["url"]),
            "ClientIDList": want["client_ids"],
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(want["tags"].items())],
        }
        if want["thumbprints"]:
            args["ThumbprintList"] = want["thumbprints"]
        arn = iam.create_open_id_connect_provider(**args)["OpenIDConnectProviderArn"]
        return {"changed": True, "arn": arn, "actions": ["create"]}
    steps = _plan(arn, _current(iam, arn), want)
    for _text, call, args in [] if check else steps:
        getattr(iam, call)(**args)
    return {"changed": bool(steps), "arn": arn, "actions": [text for text, _call, _args in steps]}
