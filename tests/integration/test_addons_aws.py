"""The aws provider's add-ons on the AWS emulator (moto, in-process; see aws_emulator.py).

RDS PostgreSQL and MySQL, an ElastiCache Redis cluster and an S3 bucket in the cluster's VPC (its
private subnets, a security group open to the VPC only), tagged with the tenant and its cost
centre, and their connection values in Secrets Manager under platykus/<tenant>/addons/. A rerun
changes nothing (the password is read back); removal leaves nothing. Assertions read the emulator.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from aws_emulator import changed_tasks, emulator, env
from conftest import RECAP_RE

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "aws"
REGION = "eu-west-1"
CLUSTER = "platykus-aws"
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
        "kafka": {"basic-0": {"version": "3.7", "monthly": 100}},
    },
    "quota": {"small": {"addons": 8, "storage": "100Gi"}},
}
REQUESTS = [
    {"name": "orders-db", "tenant": "acme", "environment": "prod", "type": "postgresql", "plan": "standard-0"},
    {"name": "legacy-db", "tenant": "acme", "environment": "prod", "type": "mysql", "plan": "standard-0"},
    {"name": "cache", "tenant": "acme", "environment": "prod", "type": "redis", "plan": "mini"},
    {"name": "uploads", "tenant": "acme", "environment": "prod", "type": "bucket", "plan": "standard"},
]
TAGS = {"platykus:tenant": "acme", "platykus:cost-center": "cc-1001", "platykus:managed-by": "platykus"}


class Aws:
    def __init__(self, url: str) -> None:
        self.url = url
        self.env = dict(os.environ, **env(url), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")

    def client(self, service: str):
        import boto3

        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def playbook(self, **extra) -> tuple[int, int, str]:
        extra = {"platykus_addons": CATALOG, "addon_requests": REQUESTS, **extra}
        cmd = [
            str(ROOT / ".venv/bin/ansible-playbook"),
            "-i",
            str(INVENTORY),
            str(ROOT / "playbooks/addon-aws.yml"),
            "-e",
            json.dumps(extra),
        ]
        proc = subprocess.run(cmd, env=self.env, cwd=ROOT, capture_output=True, text=True)
        out = proc.stdout + proc.stderr
        recaps = RECAP_RE.findall(out)
        return (proc.returncode or sum(int(r[4]) for r in recaps)), sum(int(r[2]) for r in recaps), out


@pytest.fixture(scope="module")
def aws():
    with emulator() as url:
        cloud = Aws(url)
        ec2 = cloud.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": CLUSTER}])
        for index, zone in enumerate(("eu-west-1a", "eu-west-1b")):
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.%d.0/24" % (64 + index), AvailabilityZone=zone)[
                "Subnet"
            ]["SubnetId"]
            ec2.create_tags(Resources=[subnet], Tags=[{"Key": "kubernetes.io/role/internal-elb", "Value": "1"}])
        cloud.vpc = vpc
        yield cloud


def _tags(items) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items}


def test_kafka_on_aws_is_refused_before_any_call(aws):
    rc, _changed, out = aws.playbook(
        addon_requests=[{"name": "ev", "tenant": "acme", "environment": "prod", "type": "kafka", "plan": "basic-0"}]
    )
    assert rc and "kafka add-ons on the aws provider (MSK) are not made by Platykus yet" in out
    rc, _changed, out = aws.playbook(addon_requests=[dict(REQUESTS[0], plan="huge")])
    assert rc and "addons.acme/orders-db.plan: 'huge' is not a postgresql plan" in out
    assert aws.client("rds").describe_db_instances()["DBInstances"] == []


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
    caches = aws.client("elasticache").describe_cache_clusters()["CacheClusters"]
    assert (
        len(caches) == 1
        and caches[0]["Engine"] == "redis"
        and caches[0]["CacheSubnetGroupName"] == CLUSTER + "-data-services"
    )
    buckets = [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    assert len(buckets) == 1 and buckets[0].startswith("platykus-acme-uploads-")
    assert TAGS.items() <= _tags(aws.client("s3").get_bucket_tagging(Bucket=buckets[0])["TagSet"]).items()
    sm = aws.client("secretsmanager")
    names = sorted(s["Name"] for s in sm.list_secrets()["SecretList"])
    assert names == [
        "platykus/acme/addons/cache",
        "platykus/acme/addons/legacy-db",
        "platykus/acme/addons/orders-db",
        "platykus/acme/addons/uploads",
    ]
    value = json.loads(sm.get_secret_value(SecretId="platykus/acme/addons/orders-db")["SecretString"])
    assert value["host"] == postgres["Endpoint"]["Address"] and value["user"] == postgres["MasterUsername"]
    assert value["url"].startswith("postgresql://%s:" % value["user"]) and len(value["password"]) == 32
    assert value["password"] not in out
    assert TAGS.items() <= _tags(sm.describe_secret(SecretId="platykus/acme/addons/orders-db")["Tags"]).items()


def test_rerun_changes_nothing(aws):
    before = aws.client("secretsmanager").get_secret_value(SecretId="platykus/acme/addons/orders-db")["SecretString"]
    rc, changed, out = aws.playbook()
    assert rc == 0 and changed == 0, changed_tasks(out)
    assert (
        aws.client("secretsmanager").get_secret_value(SecretId="platykus/acme/addons/orders-db")["SecretString"]
        == before
    )


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
