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
- moto's MSK (kafka) has no configurations, bootstrap brokers or SCRAM secret association and
  answers ListClusters short; here they are served as MSK does (_patch_kafka).
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
    # A deleted cluster goes away, as on ElastiCache once its deletion ends (moto keeps it "deleting"
    # for ever, so community.aws.elasticache's wait=true for state absent would never end).
    delete = models.ElastiCacheBackend.delete_cache_cluster

    def delete_cache_cluster(self: Any, cache_cluster_id: str) -> Any:
        cluster = delete(self, cache_cluster_id)
        self.cache_clusters.pop(cache_cluster_id, None)
        return cluster

    models.ElastiCacheBackend.delete_cache_cluster = delete_cache_cluster

    # DeleteCacheSubnetGroup (moto has none; aws-teardown.yml removes the data services' subnet group).
    from moto.core.responses import EmptyResult
    from moto.elasticache import responses
    from moto.elasticache.exceptions import CacheSubnetGroupNotFound

    def delete_cache_subnet_group(self: Any) -> Any:
        name = self._get_param("CacheSubnetGroupName")
        if self.elasticache_backend.cache_subnet_groups.pop(name, None) is None:
            raise CacheSubnetGroupNotFound(name)
        return EmptyResult()

    responses.ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group


def _patch_kms() -> None:
    """ScheduleKeyDeletion with a key's ARN (amazon.aws.kms_key passes the ARN): moto 5.2.5 looks the
    ARN up as a key id (KeyError, HTTP 500); KMS takes either."""
    from moto.kms import models

    if getattr(models, "_platykus_patched", False):
        return
    models._platykus_patched = True
    schedule = models.KmsBackend.schedule_key_deletion

    def schedule_key_deletion(self: Any, key_id: str, pending_window_in_days: int) -> Any:
        return schedule(self, self.get_key_id(key_id), pending_window_in_days)

    models.KmsBackend.schedule_key_deletion = schedule_key_deletion


def _patch_kafka() -> None:
    """MSK calls moto 5.2.5 lacks or answers short, served as MSK does (community.aws.msk_cluster,
    msk_config and platykus.platform.msk_scram_secrets make them):

    - ListClusters answers full ``ClusterInfo`` items (moto: name, ARN and state only), which
      msk_cluster compares on its second run;
    - configurations: CreateConfiguration, DescribeConfiguration, DescribeConfigurationRevision,
      ListConfigurations, UpdateConfiguration, DeleteConfiguration (moto has none);
    - GetBootstrapBrokers (SASL/SCRAM on 9096 per broker) and the SCRAM secret association:
      BatchAssociateScramSecret, BatchDisassociateScramSecret, ListScramSecrets (moto has none).
    """
    import json
    import re
    import uuid
    from datetime import UTC, datetime
    from urllib.parse import unquote

    from moto.kafka import models, responses, urls

    if getattr(models, "_platykus_patched", False):
        return
    models._platykus_patched = True
    backend_cls, response_cls = models.KafkaBackend, responses.KafkaResponse
    urls.url_paths["{0}/v1/configurations$"] = response_cls.dispatch
    urls.url_paths["{0}/v1/configurations/(?P<arn>.+)$"] = response_cls.dispatch
    original_list = backend_cls.list_clusters

    def list_clusters(self: Any, cluster_name_filter: Any) -> list[dict[str, Any]]:
        return [self.describe_cluster(c["clusterArn"]) for c in original_list(self, cluster_name_filter)]

    def state(self: Any) -> dict[str, Any]:
        if not hasattr(self, "_platykus"):
            self._platykus = {"configurations": {}, "scram": {}}
        return self._platykus

    def arn_in_path(self: Any, marker: str) -> str:
        # ARNs hold slashes (configuration/<name>/<id>); the operation's suffix follows them.
        arn = unquote(self.parsed_url.path).split(marker, 1)[1]
        return re.sub(r"/(revisions/[0-9]+|bootstrap-brokers|scram-secrets)$", "", arn)

    def fail(status: int, code: str, message: str) -> Any:
        return json.dumps({"message": message}), {"status": status, "x-amzn-ErrorType": code}

    def now() -> str:
        return datetime.now(UTC).isoformat()

    def create_configuration(self: Any) -> str:
        name = self._get_param("name")
        configs = state(self.kafka_backend)["configurations"]
        if any(c["name"] == name for c in configs.values()):
            return fail(409, "ConflictException", "Configuration %s already exists" % name)
        arn = "arn:aws:kafka:%s:%s:configuration/%s/%s" % (self.region, self.current_account, name, uuid.uuid4())
        revision = {"revision": 1, "creationTime": now(), "description": self._get_param("description") or "",
                    "serverProperties": self._get_param("serverProperties")}  # fmt: skip
        configs[arn] = {"arn": arn, "name": name, "kafkaVersions": self._get_param("kafkaVersions") or [],
                        "state": "ACTIVE", "creationTime": now(), "description": revision["description"],
                        "revisions": [revision]}  # fmt: skip
        return json.dumps({"arn": arn, "name": name, "creationTime": now(), "state": "ACTIVE",
                           "latestRevision": {k: v for k, v in revision.items() if k != "serverProperties"}})  # fmt: skip

    def _public(config: dict[str, Any]) -> dict[str, Any]:
        latest = config["revisions"][-1]
        out = {k: v for k, v in config.items() if k != "revisions"}
        out["latestRevision"] = {k: v for k, v in latest.items() if k != "serverProperties"}
        return out

    def _config(self: Any) -> Any:
        return state(self.kafka_backend)["configurations"].get(arn_in_path(self, "/configurations/"))

    def not_found() -> Any:
        return fail(404, "NotFoundException", "The specified configuration was not found")

    def describe_configuration(self: Any) -> str:
        config = _config(self)
        return json.dumps(_public(config)) if config else not_found()

    def describe_configuration_revision(self: Any) -> str:
        config = _config(self)
        if not config:
            return not_found()
        number = int(self.parsed_url.path.rsplit("/", 1)[1])
        found = [r for r in config["revisions"] if r["revision"] == number]
        return json.dumps(dict(found[0], arn=config["arn"])) if found else not_found()

    def list_configurations(self: Any) -> str:
        configs = state(self.kafka_backend)["configurations"].values()
        return json.dumps({"configurations": [_public(c) for c in configs]})

    def update_configuration(self: Any) -> str:
        config = _config(self)
        if not config:
            return not_found()
        revision = {"revision": len(config["revisions"]) + 1, "creationTime": now(),
                    "description": self._get_param("description") or "",
                    "serverProperties": self._get_param("serverProperties")}  # fmt: skip
        config["revisions"].append(revision)
        return json.dumps({"arn": config["arn"], "latestRevision": {k: v for k, v in revision.items()
                                                                    if k != "serverProperties"}})  # fmt: skip

    def delete_configuration(self: Any) -> str:
        arn = arn_in_path(self, "/configurations/")
        in_use = any((c.configuration_info or {}).get("arn") == arn for c in self.kafka_backend.clusters.values())
        if in_use:
            return fail(400, "BadRequestException", "Configuration %s is in use by a cluster" % arn)
        if state(self.kafka_backend)["configurations"].pop(arn, None) is None:
            return not_found()
        return json.dumps({"arn": arn, "state": "DELETING"})

    def _cluster(self: Any) -> Any:
        return self.kafka_backend.clusters.get(arn_in_path(self, "/clusters/"))

    def get_bootstrap_brokers(self: Any) -> str:
        cluster = _cluster(self)
        if cluster is None:
            return fail(404, "NotFoundException", "Cluster not found")
        hosts = ["b-%d.%s.kafka.%s.amazonaws.com" % (i + 1, cluster.cluster_name, self.region)
                 for i in range(cluster.number_of_broker_nodes or 1)]  # fmt: skip
        return json.dumps({"bootstrapBrokerStringSaslScram": ",".join(h + ":9096" for h in hosts)})

    def _scram(self: Any) -> set[str]:
        return state(self.kafka_backend)["scram"].setdefault(arn_in_path(self, "/clusters/"), set())

    def list_scram_secrets(self: Any) -> str:
        if _cluster(self) is None:
            return fail(404, "NotFoundException", "Cluster not found")
        return json.dumps({"secretArnList": sorted(_scram(self))})

    def batch_associate_scram_secret(self: Any) -> str:
        if _cluster(self) is None:
            return fail(404, "NotFoundException", "Cluster not found")
        _scram(self).update(self._get_param("secretArnList") or [])
        return json.dumps({"clusterArn": arn_in_path(self, "/clusters/"), "unprocessedScramSecrets": []})

    def batch_disassociate_scram_secret(self: Any) -> str:
        if _cluster(self) is None:
            return fail(404, "NotFoundException", "Cluster not found")
        _scram(self).difference_update(self._get_param("secretArnList") or [])
        return json.dumps({"clusterArn": arn_in_path(self, "/clusters/"), "unprocessedScramSecrets": []})

    # MSK clusters come up in 20-30 minutes; here at once (as the emulator's EKS clusters do).
    create = backend_cls.create_cluster

    def create_cluster(self: Any, *args: Any, **kwargs: Any) -> Any:
        arn, name, _state = create(self, *args, **kwargs)
        self.clusters[arn].state = "ACTIVE"
        return arn, name, "CREATING"

    backend_cls.create_cluster = create_cluster
    # A deleted cluster: NotFoundException, as MSK answers (moto: a KeyError, HTTP 500).
    describe = backend_cls.describe_cluster

    def describe_cluster(self: Any, cluster_arn: str) -> dict[str, Any]:
        from moto.core.exceptions import JsonRESTError

        if cluster_arn not in self.clusters:
            error = JsonRESTError("NotFoundException", "Cluster %s not found" % cluster_arn)
            error.code = 404
            raise error
        return describe(self, cluster_arn)

    backend_cls.describe_cluster = describe_cluster
    backend_cls.list_clusters = list_clusters
    for handler in (create_configuration, describe_configuration, describe_configuration_revision,
                    list_configurations, update_configuration, delete_configuration, get_bootstrap_brokers,
                    list_scram_secrets, batch_associate_scram_secret, batch_disassociate_scram_secret):  # fmt: skip
        setattr(response_cls, handler.__name__, handler)


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
    _patch_kms()
    _patch_kafka()
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
