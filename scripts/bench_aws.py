"""Benchmark: aws-provision.yml on the emulator (first run, no-op rerun) against the floor, the
same resources made (and then read back once) by boto3 calls in one Python process.

Each run gets a fresh emulator (moto in this process, tests/integration/aws_emulator.py) that counts
the requests it answers. Wall time includes ansible-playbook's own start-up; the ratio is what to
compare (docs/benchmarks.md).

    .venv/bin/python scripts/bench_aws.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "collections"))

import aws_emulator  # noqa: E402

REGION = "eu-west-1"
EXTRA = {"platykus_aws_account_id": aws_emulator.ACCOUNT_ID}
TRUST = {"Version": "2012-10-17", "Statement": []}


def playbook(url: str, kubeconfig: Path) -> None:
    env = dict(os.environ, **aws_emulator.env(url), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    extra = json.dumps({**EXTRA, "platykus_kubeconfig": str(kubeconfig)})
    cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(ROOT / "inventories/aws"), "-e", extra]
    subprocess.run([*cmd, str(ROOT / "playbooks/aws-provision.yml")], env=env, check=True, capture_output=True)


def _clients(url: str) -> dict[str, Any]:
    import boto3

    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    return {
        name: boto3.client(name, endpoint_url=url, **keys)
        for name in ("ec2", "eks", "iam", "s3", "sqs", "acm", "route53")
    }


def _network(ec2: Any, spec: dict) -> tuple[list[str], str]:
    vpc = ec2.create_vpc(CidrBlock=spec["cidr"])["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=s["cidr"], AvailabilityZone=s["zone"])["Subnet"]["SubnetId"]
               for s in spec["subnets"]]  # fmt: skip
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=eip)["NatGateway"]["NatGatewayId"]
    for gateway, members in ((igw, subnets[:3]), (nat, subnets[3:])):
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
        for subnet in members:
            ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    group = ec2.create_security_group(GroupName="nodes", Description="nodes", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]}]
    )
    ec2.create_tags(Resources=[vpc, *subnets, igw, eip, nat, group], Tags=[{"Key": "platykus:cluster", "Value": "x"}])
    return subnets, group


def _role(iam: Any, name: str, policies: list[str] = (), inline: dict | None = None) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    for policy in policies:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    if inline is not None:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(inline))
    return arn


def _bucket(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "platykus:cluster", "Value": "x"}]})


def floor(url: str, stack: dict) -> None:
    """What aws-provision.yml makes, created directly: the least a tool can do."""
    c = _clients(url)
    subnets, group = _network(c["ec2"], stack["network"])
    aws = "arn:aws:iam::aws:policy/"
    cluster_role = _role(c["iam"], "cluster", [aws + "AmazonEKSClusterPolicy"])
    node_role = _role(c["iam"], "nodes", [aws + p for p in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy")])
    vpc = {"subnetIds": subnets, "securityGroupIds": [group]}
    issuer = c["eks"].create_cluster(name="p", roleArn=cluster_role, resourcesVpcConfig=vpc)["cluster"]["identity"][
        "oidc"
    ]["issuer"]
    c["eks"].create_nodegroup(clusterName="p", nodegroupName="system", nodeRole=node_role, subnets=subnets[3:])
    c["iam"].create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"])
    for irsa in stack["irsa"]:
        _role(c["iam"], irsa["role"], inline=irsa["policy"])
    for bucket in [b["name"] for b in stack["buckets"]] + [t["bucket"] for t in stack["tenants"]]:
        _bucket(c["s3"], bucket)
    _role(c["iam"], "karpenter-node", [aws + "AmazonEKSWorkerNodePolicy"])
    c["sqs"].create_queue(QueueName="p", tags={"platykus:cluster": "x"})
    zone = c["route53"].list_hosted_zones_by_name(DNSName=aws_emulator.ZONE)["HostedZones"][0]["Id"]
    for tenant in stack["tenants"]:
        _role(c["iam"], tenant["role"], inline=tenant["policy"])
        tenant_zone = _tenant_zone(c["route53"], zone, tenant)
        arn = c["acm"].request_certificate(
            DomainName=tenant["domain"], SubjectAlternativeNames=[tenant["domain"], "*." + tenant["domain"]],
            ValidationMethod="DNS", Tags=[{"Key": "platykus:tenant", "Value": tenant["tenant"]}],
        )["CertificateArn"]  # fmt: skip
        cert = c["acm"].describe_certificate(CertificateArn=arn)["Certificate"]
        record = cert["DomainValidationOptions"][0]["ResourceRecord"]
        change = {"Action": "UPSERT", "ResourceRecordSet": {"Name": record["Name"], "Type": record["Type"], "TTL": 300,
                                                             "ResourceRecords": [{"Value": record["Value"]}]}}  # fmt: skip
        c["route53"].change_resource_record_sets(HostedZoneId=tenant_zone, ChangeBatch={"Changes": [change]})


def _tenant_zone(route53: Any, platform_zone: str, tenant: dict) -> str:
    """The tenant's hosted zone, tagged, delegated by an NS record in the platform's zone."""
    made = route53.create_hosted_zone(Name=tenant["domain"], CallerReference="bench-" + tenant["tenant"])
    zone = made["HostedZone"]["Id"].split("/")[-1]
    tags = [{"Key": "platykus:tenant", "Value": tenant["tenant"]}, {"Key": "platykus:cluster", "Value": "x"}]
    route53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone, AddTags=tags)
    servers = [{"Value": ns} for ns in made["DelegationSet"]["NameServers"]]
    delegation = {"Name": tenant["domain"], "Type": "NS", "TTL": 172800, "ResourceRecords": servers}
    route53.change_resource_record_sets(
        HostedZoneId=platform_zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": delegation}]}
    )
    return zone


def floor_read(url: str, stack: dict) -> None:
    """A no-op rerun's floor: read each kind of resource back once (and the tenant policies the audit reads)."""
    c = _clients(url)
    for call in ("describe_vpcs", "describe_subnets", "describe_internet_gateways", "describe_nat_gateways",
                 "describe_route_tables", "describe_security_groups"):  # fmt: skip
        getattr(c["ec2"], call)()
    c["eks"].describe_cluster(name="p")
    c["eks"].describe_nodegroup(clusterName="p", nodegroupName="system")
    c["iam"].list_open_id_connect_providers()
    for role in (
        ["cluster", "nodes", "karpenter-node"]
        + [r["role"] for r in stack["irsa"]]
        + [t["role"] for t in stack["tenants"]]
    ):
        c["iam"].get_role(RoleName=role)
    c["s3"].list_buckets()
    c["sqs"].get_queue_url(QueueName="p")
    for summary in c["acm"].list_certificates()["CertificateSummaryList"]:
        c["acm"].describe_certificate(CertificateArn=summary["CertificateArn"])
    zone = c["route53"].list_hosted_zones_by_name(DNSName=aws_emulator.ZONE)["HostedZones"][0]["Id"]
    c["route53"].list_resource_record_sets(HostedZoneId=zone)
    for tenant in stack["tenants"]:  # the tenant zone, its tags and records
        found = c["route53"].list_hosted_zones_by_name(DNSName=tenant["domain"])["HostedZones"][0]["Id"]
        c["route53"].list_tags_for_resource(ResourceType="hostedzone", ResourceId=found.split("/")[-1])
        c["route53"].list_resource_record_sets(HostedZoneId=found)
    for tenant in stack["tenants"]:  # what the isolation audit reads back
        c["iam"].list_role_policies(RoleName=tenant["role"])
        c["iam"].get_role_policy(RoleName=tenant["role"], PolicyName="p")


def stack_spec() -> dict:
    """The stack the inventory describes (the same filter the playbook runs)."""
    import yaml

    from ansible_collections.platykus.platform.plugins.module_utils._platform.aws_stack import stack_spec as spec
    from ansible_collections.platykus.platform.plugins.module_utils._platform.services import (
        resolve_parameters,
        service_plan,
    )

    group_vars = {}
    for path in sorted((ROOT / "inventories/aws/group_vars/all").glob("*.yml")):
        group_vars.update(yaml.safe_load(path.read_text()) or {})
    catalog = yaml.safe_load((ROOT / "catalog/services.yml").read_text())
    settings = {**group_vars, **EXTRA}
    params = resolve_parameters(catalog["platykus_catalog_parameters"], settings)
    releases = service_plan(
        catalog["platykus_catalog_services"], catalog["platykus_catalog_stages"], "aws", settings=params
    )
    tenants = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "inventories/aws/tenants").glob("*.yml"))]
    return spec(settings, releases, tenants)


def measure(step) -> tuple[float, int]:
    before = len(aws_emulator.REQUESTS)
    started = time.monotonic()
    step()
    return time.monotonic() - started, len(aws_emulator.REQUESTS) - before


def one_round(tmp: Path, stack: dict) -> dict[str, tuple[float, int]]:
    results = {}
    with aws_emulator.emulator() as url:
        results["playbook: provision"] = measure(lambda: playbook(url, tmp / "kubeconfig"))
        results["playbook: no-op rerun"] = measure(lambda: playbook(url, tmp / "kubeconfig"))
    with aws_emulator.emulator() as url:
        results["boto3 floor: create"] = measure(lambda: floor(url, stack))
        results["boto3 floor: read back"] = measure(lambda: floor_read(url, stack))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(aws_emulator.CREDENTIALS)
    stack = stack_spec()
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "platykus-bench-aws"
    tmp.mkdir(exist_ok=True)
    rounds = [one_round(tmp, stack) for _ in range(args.repeat)]
    print("| step | median wall | API requests |\n| --- | ---: | ---: |")
    for step in rounds[0]:
        walls = [r[step][0] for r in rounds]
        print("| %s | %.1f s | %d |" % (step, statistics.median(walls), rounds[0][step][1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
