# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two AWS calls the bundled modules do not make, for the aws add-ons (playbooks/tasks/addon_aws.yml).

- ElastiCache tags: community.aws.elasticache takes no tags, and no bundled module tags an
  ElastiCache cluster (ListTagsForResource / AddTagsToResource / RemoveTagsFromResource);
- MSK SASL/SCRAM secrets: no bundled module associates a Secrets Manager secret with an MSK
  cluster (ListScramSecrets / BatchAssociateScramSecret / BatchDisassociateScramSecret).

Both take a boto3 client (the module's, with its retries) and explicit arguments, compare what
AWS holds with what is wanted, and in check mode only read. Missing resources raise PlatykusError
naming them; AWS errors (botocore's) are left to the module, which reports them the amazon.aws way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError


# -- ElastiCache tags -----------------------------------------------------------------------------
def cache_cluster_arn(client: Any, cluster_id: str) -> str | None:
    """The cluster's ARN, or None when there is no such cluster."""
    try:
        found = client.describe_cache_clusters(CacheClusterId=cluster_id)["CacheClusters"]
    except client.exceptions.CacheClusterNotFoundFault:
        return None
    return found[0]["ARN"] if found else None


def tag_changes(current: Mapping[str, str], wanted: Mapping[str, str], purge: bool) -> tuple[dict[str, str], list[str]]:
    """(tags to set, keys to remove) to go from ``current`` to ``wanted``."""
    add = {str(k): str(v) for k, v in wanted.items() if current.get(str(k)) != str(v)}
    remove = sorted(k for k in current if k not in {str(w) for w in wanted}) if purge else []
    return add, remove


def ensure_cache_tags(
    client: Any, cluster_id: str, tags: Mapping[str, str], purge: bool = True, check: bool = False
) -> dict[str, Any]:
    """Give ElastiCache cluster ``cluster_id`` exactly ``tags`` (with ``purge``) or at least them."""
    arn = cache_cluster_arn(client, cluster_id)
    if arn is None:
        if check:  # the cluster is made by the task before this one in a real run
            return {"changed": bool(tags), "arn": None, "tags": dict(tags), "before": {}}
        raise PlatykusError(
            "Failed to tag ElastiCache cluster '%s': it does not exist; create it first (community.aws.elasticache)"
            % cluster_id
        )
    listed = client.list_tags_for_resource(ResourceName=arn).get("TagList") or []
    current = {t["Key"]: t["Value"] for t in listed}
    add, remove = tag_changes(current, tags, purge)
    if not check:
        if remove:
            client.remove_tags_from_resource(ResourceName=arn, TagKeys=remove)
        if add:
            client.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": k, "Value": v} for k, v in sorted(add.items())])
    after = {k: v for k, v in current.items() if k not in remove}
    after.update(add)
    return {"changed": bool(add or remove), "arn": arn, "tags": after, "before": current}


# -- MSK SCRAM secrets ----------------------------------------------------------------------------
def msk_cluster_arn(client: Any, name: str) -> str | None:
    """The ARN of the MSK cluster named exactly ``name`` (ListClusters filters on the name's start)."""
    found = client.list_clusters(ClusterNameFilter=name).get("ClusterInfoList") or []
    exact = [c["ClusterArn"] for c in found if c.get("ClusterName") == name]
    return exact[0] if exact else None


def _scram_secrets(client: Any, arn: str) -> list[str]:
    out: list[str] = []
    token = None
    while True:
        page = client.list_scram_secrets(ClusterArn=arn, **({"NextToken": token} if token else {}))
        out.extend(page.get("SecretArnList") or [])
        token = page.get("NextToken")
        if not token:
            return sorted(out)


def _unprocessed(response: Mapping[str, Any], verb: str, cluster: str) -> None:
    failed = response.get("UnprocessedScramSecrets") or []
    if failed:
        raise PlatykusError(
            "Failed to %s SCRAM secrets of MSK cluster '%s': %s"
            % (verb, cluster, "; ".join("%s: %s" % (f.get("SecretArn"), f.get("ErrorMessage")) for f in failed))
        )


def ensure_scram_secrets(
    client: Any, cluster: str, secret_arns: list[str], state: str = "present", purge: bool = False, check: bool = False
) -> dict[str, Any]:
    """Associate ``secret_arns`` with MSK cluster ``cluster`` (present) or disassociate them (absent);
    with ``purge``, present also disassociates every other secret."""
    arn = msk_cluster_arn(client, cluster)
    if arn is None:
        if state == "absent":  # nothing is associated with a cluster that is gone
            return {"changed": False, "cluster_arn": None, "associated": [], "disassociated": [], "secrets": [],
                    "bootstrap": None}  # fmt: skip
        if check:
            return {"changed": True, "cluster_arn": None, "associated": sorted(secret_arns), "disassociated": [],
                    "secrets": sorted(secret_arns), "bootstrap": None}  # fmt: skip
        raise PlatykusError(
            "Failed to associate SCRAM secrets with MSK cluster '%s': it does not exist; create it first "
            "(community.aws.msk_cluster)" % cluster
        )
    current = _scram_secrets(client, arn)
    wanted = set(secret_arns)
    if state == "present":
        associate = sorted(wanted - set(current))
        disassociate = sorted(set(current) - wanted) if purge else []
    else:
        associate, disassociate = [], sorted(wanted & set(current))
    if not check:
        if associate:
            _unprocessed(
                client.batch_associate_scram_secret(ClusterArn=arn, SecretArnList=associate), "associate", cluster
            )
        if disassociate:
            _unprocessed(
                client.batch_disassociate_scram_secret(ClusterArn=arn, SecretArnList=disassociate),
                "disassociate",
                cluster,
            )
    after = sorted((set(current) | set(associate)) - set(disassociate))
    return {
        "changed": bool(associate or disassociate),
        "cluster_arn": arn,
        "associated": associate,
        "disassociated": disassociate,
        "secrets": after,
        "before": current,
        # Where SCRAM clients connect (host:9096,...), for the add-on's connection values.
        "bootstrap": client.get_bootstrap_brokers(ClusterArn=arn).get("BootstrapBrokerStringSaslScram"),
    }
