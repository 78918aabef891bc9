"""The AWS emulator for the aws tests: moto 5.2.5 in this process, with its known EKS gaps patched.

moto runs in-process (``ThreadedMotoServer``) so a test can reach into its backends: the hand-over
to the lab points the emulated cluster's endpoint and CA at the lab's API server. Where the product
is right and moto wrong, the fix is here, in the test, never in the roles:

- moto's EKS tag API knows clusters only (TagResource/ListTagsForResource on a node group's ARN
  answer 404), so community.aws.eks_nodegroup fails its second run; here node groups are tagged too.
- moto's DescribeCacheClusters answers no ``CacheNodes`` (even with ShowCacheNodeInfo), no
  ``CacheSecurityGroups`` and no ``SecurityGroups``, so community.aws.elasticache fails (KeyError)
  or asks for a ModifyCacheCluster moto lacks on its second run; here clusters answer their nodes
  (each with an endpoint) and their security groups, as ElastiCache does.
- moto's CreateNodegroup drops ``updateConfig`` (EKS answers ``{"maxUnavailable": 1}`` by default),
  so eks_nodegroup fails comparing it on its second run; here new node groups get EKS's default.
"""

from __future__ import annotations

import os
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ACCOUNT_ID = "123456789012"
# What a real account needs first (docs/aws.md): the hosted zone of platykus_route53_zone.
ZONE = "platykus.example.com"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _patch_eks() -> None:
    from moto.eks import models

    if getattr(models, "_platykus_patched", False):
        return
    nodegroup_init = models.Nodegroup.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        nodegroup_init(self, *args, **kwargs)
        self.update_config = self.update_config or {"maxUnavailable": 1}

    def find(backend: Any, arn: str) -> Any:
        for cluster in backend.clusters.values():
            if cluster.arn == arn:
                return cluster
            for group in cluster.nodegroups.values():
                if group.arn == arn:
                    return group
        raise models.ResourceNotFoundException(
            clusterName=None,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=None,
            message="Resource was not found",
        )

    def untag(self: Any, arn: str, keys: Any) -> None:
        tags = find(self, arn).tags
        for key in keys if isinstance(keys, list) else [keys]:
            tags.pop(key, None)

    models.Nodegroup.__init__ = init
    models.EKSBackend.tag_resource = lambda self, arn, tags: find(self, arn).tags.update(tags)
    models.EKSBackend.untag_resource = untag
    models.EKSBackend.list_tags_for_resource = lambda self, arn: find(self, arn).tags
    models._platykus_patched = True


# Every request the emulator answered, as (method, path, X-Amz-Target or Action): the benchmark counts them.
REQUESTS: list[tuple[str, str, str]] = []


def _patch_elasticache() -> None:
    from moto.elasticache import models

    if getattr(models, "_platykus_patched", False):
        return
    models._platykus_patched = True
    original = models.CacheCluster.__init__

    def init(self, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        port = getattr(self, "port", None) or 6379
        # EC2-Classic security groups (none in a VPC) and the VPC security groups it was given.
        self.cache_security_groups = []
        self.security_groups = [{"SecurityGroupId": group, "Status": "active"} for group in self.security_group_ids]
        self.cache_nodes = [
            {
                "CacheNodeId": "%04d" % (index + 1),
                "CacheNodeStatus": "available",
                "Endpoint": {
                    "Address": "%s.%04d.cache.amazonaws.com" % (self.cache_cluster_id, index + 1),
                    "Port": port,
                },
            }
            for index in range(self.num_cache_nodes)
        ]

    models.CacheCluster.__init__ = init


def _count_requests() -> None:
    from urllib.parse import parse_qs

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication as App

    if getattr(App, "_platykus_counted", False):
        return
    call = App.__call__

    def counted(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        action = environ.get("HTTP_X_AMZ_TARGET") or (query.get("Action") or [""])[0]
        REQUESTS.append((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""), action))
        return call(self, environ, start_response)

    App.__call__ = counted
    App._platykus_counted = True


def seed_account(url: str, zone: str = ZONE) -> str:
    """Give the emulated account what a real one has before provisioning: the public hosted zone of
    the platform's domain (provisioning writes records into it, it does not own it). Its id."""
    import boto3

    route53 = boto3.client("route53", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing")  # fmt: skip
    return route53.create_hosted_zone(Name=zone, CallerReference="platykus-" + zone)["HostedZone"]["Id"]


@contextmanager
def emulator() -> Iterator[str]:
    """Start moto on 127.0.0.1 (managed IAM policies loaded), seed the account (seed_account) and
    yield its URL."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto.server import ThreadedMotoServer

    _patch_eks()
    _patch_elasticache()
    _count_requests()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = "http://127.0.0.1:%d" % port
    # moto keeps its state per process, not per server: start from nothing.
    urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST"), timeout=30)
    seed_account(url)
    try:
        yield url
    finally:
        _HAND_OVER.clear()
        server.stop()


def changed_tasks(out: str) -> list[str]:
    """The headers of the tasks a playbook's output shows as changed (to name what a rerun changed)."""
    tasks, current = [], None
    for line in out.splitlines():
        if line.startswith("TASK ["):
            current = line.rstrip("* ")
        elif line.startswith("changed:") and current and current not in tasks:
            tasks.append(current)
    return tasks


def env(url: str) -> dict[str, str]:
    """The environment boto3 (and so amazon.aws) needs to talk to the emulator only."""
    return dict(CREDENTIALS, AWS_ENDPOINT_URL=url)


# Where clusters created from now on say their API server is (hand_over()); empty: moto's random one.
_HAND_OVER: dict[str, str] = {}


def _patch_cluster() -> None:
    from moto.eks import models

    if getattr(models.Cluster, "_platykus_patched", False):
        return
    cluster_init = models.Cluster.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        cluster_init(self, *args, **kwargs)
        if _HAND_OVER:
            self.endpoint = _HAND_OVER["server"]
            self.certificate_authority = {"data": _HAND_OVER["ca_data"]}

    models.Cluster.__init__ = init
    models.Cluster._platykus_patched = True


def hand_over(server: str, ca_data: str) -> None:
    """Hand EKS over to a real API server: every cluster created from now on names this endpoint
    and CA (base64 PEM) in DescribeCluster, so the kubeconfig the playbook writes reaches it."""
    _patch_cluster()
    _HAND_OVER.update(server=server, ca_data=ca_data)


def _serve(argv: list[str]) -> None:
    """``python aws_emulator.py PORT [LAB_KUBECONFIG]``: serve until killed (molecule/aws create),
    handed over to the lab whose admin kubeconfig is given."""
    import base64
    import json
    import time

    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto.server import ThreadedMotoServer

    _patch_eks()
    if len(argv) > 1:
        import yaml

        config = yaml.safe_load(open(argv[1], encoding="utf-8"))
        cluster = config["clusters"][0]["cluster"]
        with open(cluster["certificate-authority"], "rb") as handle:
            hand_over(cluster["server"], base64.b64encode(handle.read()).decode())
    ThreadedMotoServer(ip_address="127.0.0.1", port=int(argv[0]), verbose=False).start()
    urllib.request.urlopen("http://127.0.0.1:%s/moto-api/" % argv[0], timeout=10)
    seed_account("http://127.0.0.1:%s" % argv[0])
    print(json.dumps({"url": "http://127.0.0.1:%s" % argv[0]}), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    import sys

    _serve(sys.argv[1:])
