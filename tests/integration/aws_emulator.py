"""The AWS emulator for the aws tests: moto 5.2.5 in this process, with its known EKS gaps patched.

moto runs in-process (``ThreadedMotoServer``) so a test can reach into its backends: the hand-over
to the lab points the emulated cluster's endpoint and CA at the lab's API server. Where the product
is right and moto wrong, the fix is here, in the test, never in the roles:

- moto's EKS tag API knows clusters only (TagResource/ListTagsForResource on a node group's ARN
  answer 404), so community.aws.eks_nodegroup fails its second run; here node groups are tagged too.
- moto's CreateNodegroup drops ``updateConfig`` (EKS answers ``{"maxUnavailable": 1}`` by default),
  so eks_nodegroup fails comparing it on its second run; here new node groups get EKS's default.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ACCOUNT_ID = "123456789012"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


def _free_port() -> int:
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


@contextmanager
def emulator() -> Iterator[str]:
    """Start moto on 127.0.0.1 (managed IAM policies loaded) and yield its URL."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto.server import ThreadedMotoServer

    _patch_eks()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield "http://127.0.0.1:%d" % port
    finally:
        server.stop()


def env(url: str) -> dict[str, str]:
    """The environment boto3 (and so amazon.aws) needs to talk to the emulator only."""
    return dict(CREDENTIALS, AWS_ENDPOINT_URL=url)


def eks_backend(region: str) -> Any:
    from moto.eks.models import eks_backends

    return eks_backends[ACCOUNT_ID][region]


def point_cluster_at(region: str, name: str, server: str, ca_data: str) -> None:
    """Hand the emulated cluster over: DescribeCluster answers with this API server and CA."""
    cluster = eks_backend(region).clusters[name]
    cluster.endpoint = server
    cluster.certificate_authority = {"data": ca_data}
