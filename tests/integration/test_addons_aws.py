"""The aws provider's add-ons: AWS on the emulator, the tenant namespaces on the lab.

RDS PostgreSQL and MySQL, an ElastiCache Redis cluster, an MSK Kafka cluster and an S3 bucket in the
cluster's VPC (its private subnets; a security group open to the VPC, and for MSK one admitting the
cluster's nodes only), tagged with the tenant, its cost centre, the cluster and the add-on, and their
connection values in Secrets Manager under platykus/<tenant>/addons/ (MSK's SCRAM user also as
AmazonMSK_platykus/<tenant>/addons/<name>, associated with the cluster). The tenant's add-on quota
is checked on the lab's API server before any AWS call; each add-on gets an ExternalSecret in its
tenant namespace. A rerun changes nothing; removal leaves nothing. Assertions read the emulator and
the API server. AWS is moto in-process (aws_emulator.py: it serves the ElastiCache and MSK calls
moto lacks); the last test runs against the lab's own AWS, where the lab's external-secrets syncs the
ExternalSecret into a Secret through the tenant's SecretStore.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import boto3
import pytest
from aws_emulator import changed_tasks, emulator, env
from conftest import RECAP_RE, wait_for

from platykus_lab import aws as lab_aws

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "aws"
REGION = "eu-west-1"
CLUSTER = "platykus-aws"
NAMESPACE = "acme-prod"
CATALOG = {
    "providers": {"postgresql": "aws", "mysql": "aws", "redis": "aws", "bucket": "aws", "kafka": "aws"},
    "plans": {
        "postgresql": {
            "standard-0": {
                "version": "16.3",
                "storage": "10Gi",
                "backups": True,
                "instance_class": "db.t3.small",
                "monthly": 60,
            }
        },
        "mysql": {"standard-0": {"version": "8.0.39", "storage": "30Gi", "ha": True, "monthly": 90}},
        "redis": {"mini": {"version": "7.1", "instance_class": "cache.t3.micro", "monthly": 12}},
        "bucket": {"standard": {"version": "s3", "storage": 0, "monthly": 2}},
        "kafka": {"basic-0": {"version": "3.7.x", "storage": "20Gi", "monthly": 100}},
    },
    "quota": {"small": {"addons": 8, "storage": "100Gi", "monthly": 400}},
}
REQUESTS = [
    {"name": "orders-db", "tenant": "acme", "environment": "prod", "type": "postgresql", "plan": "standard-0"},
    {"name": "legacy-db", "tenant": "acme", "environment": "prod", "type": "mysql", "plan": "standard-0"},
    {"name": "cache", "tenant": "acme", "environment": "prod", "type": "redis", "plan": "mini"},
    {"name": "uploads", "tenant": "acme", "environment": "prod", "type": "bucket", "plan": "standard"},
    {"name": "events", "tenant": "acme", "environment": "prod", "type": "kafka", "plan": "basic-0"},
]
TAGS = {
    "platykus:tenant": "acme",
    "platykus:cost-center": "cc-1001",
    "platykus:managed-by": "platykus",
    "platykus:cluster": CLUSTER,
}
ES_LABELS = "platykus.io/data-service,platykus.io/addon,platykus.io/tenant=acme"
EKS_NAME = "platykus"  # inventories/aws: platykus_eks_cluster_name, what aws-teardown.yml asks to confirm


def _tags(items) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items}


class Aws:
    def __init__(self, lab, aws_env: dict[str, str], region: str = REGION) -> None:
        self.lab, self.region, self.aws_env = lab, region, aws_env
        self.env = dict(lab.env, **aws_env)

    def client(self, service: str):
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.aws_env["AWS_ENDPOINT_URL"],
            aws_access_key_id=self.aws_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.aws_env["AWS_SECRET_ACCESS_KEY"],
        )

    def playbook(self, *flags: str, playbook: str = "playbooks/addon-aws.yml", **extra) -> tuple[int, int, str]:
        extra = {"platykus_addons": CATALOG, "addon_requests": REQUESTS, "platykus_aws_region": self.region, **extra}
        cmd = [
            str(ROOT / ".venv/bin/ansible-playbook"),
            "-i",
            str(INVENTORY),
            str(ROOT / playbook),
            "-e",
            json.dumps(extra),
            *flags,
        ]
        proc = subprocess.run(cmd, env=self.env, cwd=ROOT, capture_output=True, text=True)
        out = proc.stdout + proc.stderr
        recaps = RECAP_RE.findall(out)
        return (proc.returncode or sum(int(r[4]) for r in recaps)), sum(int(r[2]) for r in recaps), out

    def external_secrets(self) -> dict[str, dict]:
        items = self.lab.get_json("externalsecrets.external-secrets.io", "-n", NAMESPACE, "-l", ES_LABELS)["items"]
        return {item["metadata"]["name"]: item for item in items}


@pytest.fixture(scope="module")
def onboarded(lab):
    """The lab's tenants onboarded with their AWS slice (acme-prod, plan small, SecretStore)."""
    run = lab.playbook("playbooks/tenant-onboarding.yml", extra_vars={"platykus_tenant_capacity_policy": "warn"})
    assert run.ok, run.output[-4000:]
    return lab


@pytest.fixture(scope="module")
def aws(onboarded):
    # A kept lab may hold a previous run's add-ons: start from none.
    onboarded.kubectl("delete", "externalsecrets.external-secrets.io,secrets", "-n", NAMESPACE, "-l", ES_LABELS)
    with emulator() as url:
        cloud = Aws(onboarded, env(url))
        _seed_network(cloud)
        yield cloud


def _seed_network(cloud: Aws) -> None:
    """What aws-provision makes (roles/aws_network): the VPC, two private subnets, the nodes' security
    group; one made by an earlier run on a kept lab is reused (the lab's moto cannot delete or modify
    the ElastiCache subnet group left in it)."""
    ec2 = cloud.client("ec2")
    found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [CLUSTER]}])["Vpcs"]
    if found:
        cloud.vpc = found[0]["VpcId"]
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [cloud.vpc]}])["Subnets"]
        cloud.subnets = [s["SubnetId"] for s in subnets]
        return
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": CLUSTER}])
    cloud.subnets = []
    for index, zone in enumerate(zones):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.%d.0/24" % (64 + index), AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        ec2.create_tags(Resources=[subnet], Tags=[{"Key": "kubernetes.io/role/internal-elb", "Value": "1"}])
        cloud.subnets.append(subnet)
    cloud.nodes_sg = ec2.create_security_group(GroupName=CLUSTER + "-nodes", Description="nodes", VpcId=vpc)["GroupId"]
    cloud.vpc = vpc


def test_bad_input_and_quota_are_refused_before_any_aws_call(aws):
    rc, _changed, out = aws.playbook(addon_requests=[dict(REQUESTS[0], plan="huge")])
    assert rc and "addons.acme/orders-db.plan: 'huge' is not a postgresql plan" in out
    rc, _changed, out = aws.playbook(addon_requests=[dict(REQUESTS[0], environment="qa")])
    assert rc and "addons.acme/orders-db.environment: namespace 'acme-qa' is not an onboarded namespace" in out
    tight = dict(CATALOG, quota={"small": {"addons": 2, "storage": "20Gi", "monthly": 50}})
    rc, _changed, out = aws.playbook(platykus_addons=tight)
    assert rc and "would give tenant 'acme' (plan small) 5 add-ons, over its quota of 2" in out
    assert "over its quota of 20 GiB; choose a smaller plan or raise platykus_addons.quota.small.storage" in out
    assert "platykus_addons.quota.small.monthly" in out
    assert aws.client("rds").describe_db_instances()["DBInstances"] == []
    assert aws.client("kafka").list_clusters()["ClusterInfoList"] == []
    assert aws.client("secretsmanager").list_secrets()["SecretList"] == []
    assert not any(
        g["GroupName"].startswith(CLUSTER + "-data")
        for g in aws.client("ec2").describe_security_groups()["SecurityGroups"]
    )
    assert aws.external_secrets() == {}


def test_create_tags_secrets_and_network(aws):
    rc, _changed, out = aws.playbook()
    assert rc == 0, out[-4000:]
    rds = {db["DBInstanceIdentifier"]: db for db in aws.client("rds").describe_db_instances()["DBInstances"]}
    assert len(rds) == 2
    for db in rds.values():
        assert TAGS.items() <= _tags(db["TagList"]).items()
        assert db["DBSubnetGroup"]["VpcId"] == aws.vpc and not db["PubliclyAccessible"]
    mysql = next(db for db in rds.values() if db["Engine"] == "mysql")
    assert mysql["MultiAZ"] and mysql["AllocatedStorage"] == 30
    postgres = next(db for db in rds.values() if db["Engine"] == "postgres")
    assert postgres["BackupRetentionPeriod"] == 7 and postgres["DBInstanceClass"] == "db.t3.small"
    groups = aws.client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [CLUSTER + "-data-services"]}]
    )["SecurityGroups"]
    assert groups[0]["VpcId"] == aws.vpc
    assert {r["CidrIp"] for p in groups[0]["IpPermissions"] for r in p["IpRanges"]} == {"10.20.0.0/16"}
    assert [g["VpcSecurityGroupId"] for g in postgres["VpcSecurityGroups"]] == [groups[0]["GroupId"]]
    elasticache = aws.client("elasticache")
    caches = elasticache.describe_cache_clusters()["CacheClusters"]
    assert (
        len(caches) == 1
        and caches[0]["Engine"] == "redis"
        and caches[0]["CacheSubnetGroupName"] == CLUSTER + "-data-services"
    )
    cache_tags = _tags(elasticache.list_tags_for_resource(ResourceName=caches[0]["ARN"])["TagList"])
    assert TAGS.items() <= cache_tags.items() and cache_tags["platykus:addon"] == "cache"
    buckets = [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    assert len(buckets) == 1 and buckets[0].startswith("platykus-acme-uploads-")
    assert TAGS.items() <= _tags(aws.client("s3").get_bucket_tagging(Bucket=buckets[0])["TagSet"]).items()
    sm = aws.client("secretsmanager")
    names = sorted(s["Name"] for s in sm.list_secrets()["SecretList"])
    assert names == [
        "AmazonMSK_platykus/acme/addons/events",
        "platykus/acme/addons/cache",
        "platykus/acme/addons/events",
        "platykus/acme/addons/legacy-db",
        "platykus/acme/addons/orders-db",
        "platykus/acme/addons/uploads",
    ]
    value = json.loads(sm.get_secret_value(SecretId="platykus/acme/addons/orders-db")["SecretString"])
    assert value["host"] == postgres["Endpoint"]["Address"] and value["user"] == postgres["MasterUsername"]
    assert value["url"].startswith("postgresql://%s:" % value["user"]) and len(value["password"]) == 32
    assert value["password"] not in out
    assert TAGS.items() <= _tags(sm.describe_secret(SecretId="platykus/acme/addons/orders-db")["Tags"]).items()
    # Every add-on is delivered to its namespace by an ExternalSecret on the tenant's SecretStore.
    delivered = aws.external_secrets()
    assert sorted(delivered) == sorted("addon-" + r["name"] for r in REQUESTS)
    spec = delivered["addon-orders-db"]["spec"]
    assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "platykus-secrets-acme"}
    assert spec["dataFrom"][0]["extract"]["key"] == "platykus/acme/addons/orders-db"
    assert spec["target"]["template"]["metadata"]["labels"]["platykus.io/data-service"] == "postgresql"


def test_kafka_on_msk(aws):
    kafka, sm, ec2 = aws.client("kafka"), aws.client("secretsmanager"), aws.client("ec2")
    [cluster] = kafka.list_clusters()["ClusterInfoList"]
    assert cluster["State"] == "ACTIVE" and cluster["NumberOfBrokerNodes"] == 2
    assert TAGS.items() <= kafka.list_tags_for_resource(ResourceArn=cluster["ClusterArn"])["Tags"].items()
    brokers = cluster["BrokerNodeGroupInfo"]
    assert sorted(brokers["ClientSubnets"]) == sorted(aws.subnets)
    assert brokers["StorageInfo"]["EbsStorageInfo"]["VolumeSize"] == 20
    assert cluster["ClientAuthentication"] == {"Sasl": {"Scram": {"Enabled": True}}}
    assert cluster["EncryptionInfo"]["EncryptionInTransit"]["ClientBroker"] == "TLS"
    # Its security group admits the SASL/SCRAM port from the cluster's nodes only.
    [group] = ec2.describe_security_groups(GroupIds=brokers["SecurityGroups"])["SecurityGroups"]
    assert group["VpcId"] == aws.vpc and TAGS.items() <= _tags(group["Tags"]).items()
    assert [(p["FromPort"], p["ToPort"], [g["GroupId"] for g in p["UserIdGroupPairs"]], p["IpRanges"])
            for p in group["IpPermissions"]] == [(9096, 9096, [aws.nodes_sg], [])]  # fmt: skip
    config = kafka.describe_configuration_revision(
        Arn=cluster["CurrentBrokerSoftwareInfo"]["ConfigurationArn"], Revision=1
    )
    assert b"auto.create.topics.enable=false" in config["ServerProperties"]
    # The SCRAM user's secret: MSK's name prefix, a customer managed key, associated with the cluster.
    scram = sm.describe_secret(SecretId="AmazonMSK_platykus/acme/addons/events")
    assert scram["KmsKeyId"] and "aws/secretsmanager" not in scram["KmsKeyId"]
    assert kafka.list_scram_secrets(ClusterArn=cluster["ClusterArn"])["SecretArnList"] == [scram["ARN"]]
    login = json.loads(sm.get_secret_value(SecretId=scram["ARN"])["SecretString"])
    value = json.loads(sm.get_secret_value(SecretId="platykus/acme/addons/events")["SecretString"])
    assert login == {"username": value["user"], "password": value["password"]}
    assert value["url"] == "kafka://%s:%s@%s?security_protocol=SASL_SSL&sasl_mechanism=SCRAM-SHA-512" % (
        value["user"],
        value["password"],
        value["host"],
    )
    assert value["host"].endswith(":9096") and value["port"] == "9096"


def test_rerun_changes_nothing(aws):
    before = aws.client("secretsmanager").get_secret_value(SecretId="platykus/acme/addons/orders-db")["SecretString"]
    rc, changed, out = aws.playbook("--check")
    assert rc == 0 and changed == 0, changed_tasks(out) or out[-3000:]
    rc, changed, out = aws.playbook()
    assert rc == 0 and changed == 0, changed_tasks(out) or out[-3000:]
    assert (
        aws.client("secretsmanager").get_secret_value(SecretId="platykus/acme/addons/orders-db")["SecretString"]
        == before
    )


def _rotate(cloud: Aws, request: dict) -> tuple[int, int, str]:
    fields = {"tenant": request["tenant"], "env": request["environment"], "addon_name": request["name"]}
    return cloud.playbook(playbook="playbooks/addon-rotate.yml", type=request["type"], plan=request["plan"], **fields)


def _moto_master_password(cloud: Aws, engine: str) -> str:
    """What the emulated RDS holds as the master password of the add-on on ``engine`` (RDS never
    answers it; moto, in this process, keeps it)."""
    from moto.rds.models import rds_backends

    [db] = [d for d in cloud.client("rds").describe_db_instances()["DBInstances"] if d["Engine"] == engine]
    return rds_backends["123456789012"][REGION].databases[db["DBInstanceIdentifier"]]._master_user_password


def test_rotation_changes_aws_and_secrets_together(aws):
    sm = aws.client("secretsmanager")

    def stored(name: str) -> dict:
        return json.loads(sm.get_secret_value(SecretId="platykus/acme/addons/" + name)["SecretString"])

    old_db, old_kafka = stored("orders-db"), stored("events")
    assert _moto_master_password(aws, "postgres") == old_db["password"]
    rc, _changed, out = _rotate(aws, REQUESTS[0])
    assert rc == 0, out[-4000:]
    new_db = stored("orders-db")
    assert new_db["password"] != old_db["password"] and len(new_db["password"]) == 32
    assert new_db["password"] not in out and old_db["password"] not in out
    # RDS holds the new password only; the URL the app reads carries it.
    assert _moto_master_password(aws, "postgres") == new_db["password"]
    assert new_db["url"] == old_db["url"].replace(old_db["password"], new_db["password"])
    # Kafka: the SCRAM user's secret (what MSK checks logins against) and the tenant's change together.
    rc, _changed, out = _rotate(aws, REQUESTS[4])
    assert rc == 0, out[-4000:]
    new_kafka = stored("events")
    login = json.loads(sm.get_secret_value(SecretId="AmazonMSK_platykus/acme/addons/events")["SecretString"])
    assert new_kafka["password"] != old_kafka["password"] and login["password"] == new_kafka["password"]
    [cluster] = aws.client("kafka").list_clusters()["ClusterInfoList"]
    scram_arn = sm.describe_secret(SecretId="AmazonMSK_platykus/acme/addons/events")["ARN"]
    assert aws.client("kafka").list_scram_secrets(ClusterArn=cluster["ClusterArn"])["SecretArnList"] == [scram_arn]
    # Each rotated add-on's ExternalSecret carries a new force-sync annotation; the others none.
    notes = {n: (es["metadata"].get("annotations") or {}) for n, es in aws.external_secrets().items()}
    assert notes["addon-orders-db"].get("force-sync") and notes["addon-events"].get("force-sync")
    assert "force-sync" not in notes["addon-legacy-db"]
    # Redis and buckets hold no credential on AWS: refused, nothing changed.
    cache_before = stored("cache")
    for request, why in ((REQUESTS[2], "no AUTH token"), (REQUESTS[3], "no access key")):
        rc, _changed, out = _rotate(aws, request)
        assert rc and why in out and "only postgresql, mysql and kafka add-ons on aws rotate" in out
    assert stored("cache") == cache_before
    # A rerun of addon-aws.yml keeps the new passwords and changes nothing (force-sync has its own manager).
    rc, changed, out = aws.playbook()
    assert rc == 0 and changed == 0, changed_tasks(out) or out[-3000:]
    assert stored("orders-db") == new_db


def test_teardown_refuses_while_addons_exist(aws):
    rc, _changed, out = aws.playbook(
        "--tags", "addons", playbook="playbooks/aws-teardown.yml", confirm=EKS_NAME, addon_requests=[]
    )
    assert rc and "5 add-on(s) of %s still exist on AWS" % CLUSTER in out
    for line in ("acme/orders-db (postgresql, pk-acme-orders-db-", "acme/cache (redis, pk-", "acme/events (kafka, pk-",
                 "acme/legacy-db (mysql, pk-acme-legacy-db-", "acme/uploads (bucket, platykus-acme-uploads-"):  # fmt: skip
        assert line in out
    assert "playbooks/addon-aws.yml -e addon_state=absent -e confirm=yes" in out and "-e force=true" in out
    assert len(aws.client("rds").describe_db_instances()["DBInstances"]) == 2
    assert len(aws.client("elasticache").describe_cache_clusters()["CacheClusters"]) == 1


def test_removal_needs_confirmation_and_leaves_nothing(aws):
    rc, _changed, out = aws.playbook(addon_state="absent")
    assert rc and "add -e confirm=yes" in out
    rc, _changed, out = aws.playbook(addon_state="absent", confirm="yes")
    assert rc == 0, out[-4000:]
    assert aws.client("rds").describe_db_instances()["DBInstances"] == []
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert aws.client("secretsmanager").list_secrets()["SecretList"] == []
    assert [
        c
        for c in aws.client("elasticache").describe_cache_clusters()["CacheClusters"]
        if c["CacheClusterStatus"] != "deleting"
    ] == []
    kafka = aws.client("kafka")
    assert kafka.list_clusters()["ClusterInfoList"] == [] and kafka.list_configurations()["Configurations"] == []
    names = [g["GroupName"] for g in aws.client("ec2").describe_security_groups()["SecurityGroups"]]
    assert not [n for n in names if n.startswith(CLUSTER + "-kafka-")]
    assert aws.external_secrets() == {}
    rc, changed, out = aws.playbook(addon_state="absent", confirm="yes")
    assert rc == 0 and changed == 0, changed_tasks(out) or out[-3000:]


def test_delivery_syncs_a_secret_with_the_url_on_the_lab(onboarded):
    """On the lab's own AWS (IAM enforced), the ExternalSecret on acme's SecretStore syncs the
    add-on's connection values into Secret addon-<name> of acme-prod; removal takes it away."""
    lab = onboarded
    keys = lab_aws.client_kwargs(lab.lab)
    cloud = Aws(
        lab,
        {
            "AWS_ENDPOINT_URL": keys["endpoint_url"],
            "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        },
        region=keys["region_name"],
    )
    files = {"name": "files", "tenant": "acme", "environment": "prod", "type": "bucket", "plan": "standard"}
    rc, _changed, out = cloud.playbook(addon_requests=[files])
    assert rc == 0, out[-4000:]
    stored = json.loads(
        cloud.client("secretsmanager").get_secret_value(SecretId="platykus/acme/addons/files")["SecretString"]
    )

    def synced():
        found = lab.kubectl("get", "secret", "addon-files", "-n", NAMESPACE, "-o", "json", check=False)
        return json.loads(found.stdout) if found.returncode == 0 else None

    secret = wait_for("Secret addon-files synced by external-secrets", synced, timeout=90)
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["url"] == stored["url"] and data["url"].startswith("s3://platykus-acme-files-")
    labels = secret["metadata"]["labels"]
    assert labels["platykus.io/data-service"] == "bucket" and labels["platykus.io/addon"] == "files"
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "ExternalSecret"
    rc, _changed, out = cloud.playbook(addon_requests=[files], addon_state="absent", confirm="yes")
    assert rc == 0, out[-4000:]
    assert lab.kubectl("get", "secret", "addon-files", "-n", NAMESPACE, check=False).returncode != 0
    assert not [
        s
        for s in cloud.client("secretsmanager").list_secrets()["SecretList"]
        if s["Name"].startswith("platykus/acme/addons/")
    ]


def _lab_cloud(lab) -> Aws:
    keys = lab_aws.client_kwargs(lab.lab)
    aws_env = {
        "AWS_ENDPOINT_URL": keys["endpoint_url"],
        "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    return Aws(lab, aws_env, region=keys["region_name"])


def test_rotation_resyncs_the_secret_on_the_lab(onboarded):
    """On the lab's own AWS, a PostgreSQL add-on on RDS is rotated: the real external-secrets brings
    the new password into Secret addon-ledger at once (force-sync; its refresh interval is an hour)."""
    lab, cloud = onboarded, _lab_cloud(onboarded)
    ledger = {"name": "ledger", "tenant": "acme", "environment": "prod", "type": "postgresql", "plan": "standard-0"}
    _seed_network(cloud)
    try:
        rc, _changed, out = cloud.playbook(addon_requests=[ledger])
        assert rc == 0, out[-4000:]
        sm = cloud.client("secretsmanager")

        def stored() -> str:
            return json.loads(sm.get_secret_value(SecretId="platykus/acme/addons/ledger")["SecretString"])["password"]

        def synced(password: str):
            def check():
                found = lab.kubectl("get", "secret", "addon-ledger", "-n", NAMESPACE, "-o", "json", check=False)
                if found.returncode:
                    return None
                value = base64.b64decode(json.loads(found.stdout)["data"]["password"]).decode()
                return value if value == password else None

            return check

        old = stored()
        wait_for("Secret addon-ledger synced", synced(old), timeout=90)
        rc, _changed, out = _rotate(cloud, ledger)
        assert rc == 0, out[-4000:]
        new = stored()
        assert new != old and new not in out
        wait_for("Secret addon-ledger re-synced with the rotated password", synced(new), timeout=90)
    finally:
        rc, _changed, out = cloud.playbook(addon_requests=[ledger], addon_state="absent", confirm="yes")
        assert rc == 0, out[-4000:]
        rds = cloud.client("rds")
        for db in rds.describe_db_instances()["DBInstances"]:
            if db.get("DBSubnetGroup", {}).get("VpcId") == cloud.vpc:
                rds.delete_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"], SkipFinalSnapshot=True)
        # The network stays for the next run on a kept lab: the lab's moto has no DeleteCacheSubnetGroup
        # or ModifyCacheSubnetGroup (the emulator serves the first), so the subnet group must keep its subnets.


def test_forced_teardown_removes_addons_and_their_network(aws):
    """aws-teardown.yml's add-on stage (--tags addons: the stages after it are test_aws_provision's)
    with -e force=true: every add-on found by its tags, then the shared security group, subnet groups
    and the SCRAM key; the VPC is left with nothing of the data services in it."""
    rc, _changed, out = aws.playbook()
    assert rc == 0, out[-4000:]
    rc, _changed, out = aws.playbook(
        "--tags", "addons", playbook="playbooks/aws-teardown.yml", confirm=EKS_NAME, force=True, addon_requests=[]
    )
    assert rc == 0, out[-4000:]
    assert aws.client("rds").describe_db_instances()["DBInstances"] == []
    assert aws.client("elasticache").describe_cache_clusters()["CacheClusters"] == []
    assert aws.client("kafka").list_clusters()["ClusterInfoList"] == []
    assert aws.client("kafka").list_configurations()["Configurations"] == []
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert aws.client("secretsmanager").list_secrets()["SecretList"] == []
    names = [g["GroupName"] for g in aws.client("ec2").describe_security_groups()["SecurityGroups"]]
    assert not [n for n in names if n.startswith(CLUSTER + "-data") or n.startswith(CLUSTER + "-kafka-")]
    assert aws.client("rds").describe_db_subnet_groups()["DBSubnetGroups"] == []
    assert aws.client("elasticache").describe_cache_subnet_groups()["CacheSubnetGroups"] == []
    kms = aws.client("kms")
    assert not [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/%s-msk-scram" % CLUSTER] or all(
        kms.describe_key(KeyId=a["TargetKeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
        for a in kms.list_aliases()["Aliases"]
        if a["AliasName"] == "alias/%s-msk-scram" % CLUSTER
    )
    # Nothing left: a second forced run finds no add-on and changes nothing.
    rc, changed, out = aws.playbook(
        "--tags", "addons", playbook="playbooks/aws-teardown.yml", confirm=EKS_NAME, force=True, addon_requests=[]
    )
    assert rc == 0 and changed == 0, changed_tasks(out) or out[-3000:]
