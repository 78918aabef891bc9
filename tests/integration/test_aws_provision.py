"""The AWS stack on the emulator: provision, rerun, check mode, tags, kubeconfig, teardown, bad input.

One moto server (in-process, see aws_emulator.py) for the module; the tests run in order on the
stack the first one builds. Assertions read what the emulator holds, not what the playbook printed.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from aws_emulator import changed_tasks, emulator, env
from conftest import RECAP_RE, ROOT

pytestmark = [pytest.mark.aws, pytest.mark.slow]

INVENTORY = ROOT / "inventories" / "aws"
REGION = "eu-west-1"
CLUSTER = "platykus-aws"
EKS = "platykus"
ACCOUNT = "123456789012"  # moto's account
TENANT_TAGS = {"platykus:tenant": "acme", "platykus:cost-center": "cc-1001"}
ZONE = "platykus.example.com"  # the account's zone (aws_emulator.seed_account)


class Stack:
    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        self.kubeconfig = tmp / "kubeconfig"
        self.env = dict(
            __import__("os").environ,
            **env(url),
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
        )

    def extra(self, **more) -> dict:
        return {"platykus_aws_account_id": ACCOUNT, "platykus_kubeconfig": str(self.kubeconfig), **more}

    def playbook(self, playbook: str, *args: str, env: dict | None = None, **extra) -> tuple[int, int, str]:
        cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(INVENTORY), str(ROOT / playbook), *args]
        cmd += ["-e", json.dumps(self.extra(**extra))]
        proc = subprocess.run(cmd, env=env or self.env, cwd=ROOT, capture_output=True, text=True)
        out = proc.stdout + proc.stderr
        recaps = RECAP_RE.findall(out)
        failed = sum(int(r[4]) for r in recaps)
        return (proc.returncode or failed), sum(int(r[2]) for r in recaps), out

    def client(self, service: str):
        import boto3

        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with emulator() as url:
        yield Stack(url, tmp_path_factory.mktemp("aws"))


# -- bad input fails before any call -------------------------------------------------------------
@pytest.mark.parametrize(
    "extra, field",
    [
        ({"platykus_aws_private_subnet_cidrs": ["10.20.8.0/24", "10.20.128.0/18", "10.20.192.0/18"]},
         "platykus_aws_private_subnet_cidrs[0]: 10.20.8.0/24 overlaps 10.20.0.0/20"),
        ({"platykus_aws_zones": ["eu-west-1a", "eu-west-1b", "us-east-1c"]},
         "platykus_aws_zones[2]: 'us-east-1c' is not a zone of region eu-west-1"),
        ({"platykus_eks_version": "1.19"}, "platykus_eks_version: '1.19' is not a supported EKS version"),
        ({"platykus_aws_irsa_services": ["karpenter", "no-such-service"]},
         "platykus_aws_irsa_services[1]: 'no-such-service' has no enabled irsa role"),
    ],
)  # fmt: skip
def test_bad_inventory_fails_before_any_call(stack, extra, field):
    dead = dict(stack.env, AWS_ENDPOINT_URL="http://127.0.0.1:9")  # any call would fail otherwise
    rc, changed, out = stack.playbook("playbooks/aws-provision.yml", env=dead, **extra)
    assert rc != 0 and changed == 0
    assert "Invalid AWS inventory, nothing was called" in out and field in out, out[-3000:]
    assert "TASK [aws_network" not in out


# -- the stack -------------------------------------------------------------------------------------
def test_provision(stack):
    rc, changed, out = stack.playbook("playbooks/aws-provision.yml")
    assert rc == 0, out[-5000:]
    assert changed > 0
    eks = stack.client("eks")
    cluster = eks.describe_cluster(name=EKS)["cluster"]
    assert cluster["status"] == "ACTIVE" and cluster["version"] == "1.33"
    assert eks.list_nodegroups(clusterName=EKS)["nodegroups"] == ["system"]
    assert (
        len(
            stack.client("ec2").describe_subnets(Filters=[{"Name": "tag:platykus:cluster", "Values": [CLUSTER]}])[
                "Subnets"
            ]
        )
        == 6
    )


def test_second_run_changes_nothing(stack):
    rc, changed, out = stack.playbook("playbooks/aws-provision.yml")
    assert rc == 0, out[-5000:]
    assert changed == 0, changed_tasks(out)


def test_check_mode_on_the_built_stack_reports_nothing(stack):
    rc, changed, out = stack.playbook("playbooks/aws-provision.yml", "--check")
    assert rc == 0, out[-5000:]
    assert changed == 0, changed_tasks(out)


def _tags(pairs) -> dict:
    return {t["Key"]: t["Value"] for t in pairs or []}


def _ec2_tagged(stack) -> dict[str, dict]:
    ec2 = stack.client("ec2")
    found = {}
    vpc_ids = [v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [CLUSTER]}])["Vpcs"]]
    by_vpc = [{"Name": "vpc-id", "Values": vpc_ids}]
    for vpc in ec2.describe_vpcs(VpcIds=vpc_ids)["Vpcs"]:
        found[vpc["VpcId"]] = _tags(vpc.get("Tags"))
    for subnet in ec2.describe_subnets(Filters=by_vpc)["Subnets"]:
        found[subnet["SubnetId"]] = _tags(subnet.get("Tags"))
    for igw in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": vpc_ids}])[
        "InternetGateways"
    ]:
        found[igw["InternetGatewayId"]] = _tags(igw.get("Tags"))
    for nat in ec2.describe_nat_gateways(Filters=by_vpc + [{"Name": "state", "Values": ["available"]}])["NatGateways"]:
        found[nat["NatGatewayId"]] = _tags(nat.get("Tags"))
        for address in nat["NatGatewayAddresses"]:
            eip = ec2.describe_addresses(AllocationIds=[address["AllocationId"]])["Addresses"][0]
            found[address["AllocationId"]] = _tags(eip.get("Tags"))
    for table in ec2.describe_route_tables(Filters=by_vpc)["RouteTables"]:
        if not any(a.get("Main") for a in table.get("Associations", [])):
            found[table["RouteTableId"]] = _tags(table.get("Tags"))
    for group in ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"]:
        if group["GroupName"] != "default":
            found[group["GroupId"]] = _tags(group.get("Tags"))
    return found


def _iam_tagged(stack) -> dict[str, dict]:
    iam = stack.client("iam")
    found = {}
    for role in iam.list_roles()["Roles"]:
        if role["RoleName"].startswith((CLUSTER + "-", "KarpenterNodeRole-")):
            found[role["RoleName"]] = _tags(iam.list_role_tags(RoleName=role["RoleName"])["Tags"])
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        found[provider["Arn"]] = _tags(
            iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])["Tags"]
        )
    return found


def _other_tagged(stack) -> dict[str, dict]:
    eks, s3, sqs = stack.client("eks"), stack.client("s3"), stack.client("sqs")
    found = {"eks:" + EKS: eks.describe_cluster(name=EKS)["cluster"]["tags"]}
    found["nodegroup:system"] = eks.describe_nodegroup(clusterName=EKS, nodegroupName="system")["nodegroup"]["tags"]
    for bucket in s3.list_buckets()["Buckets"]:
        found["s3:" + bucket["Name"]] = _tags(s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"])
    queue = sqs.get_queue_url(QueueName=EKS)["QueueUrl"]
    found["sqs:" + EKS] = sqs.list_queue_tags(QueueUrl=queue).get("Tags", {})
    route53 = stack.client("route53")
    for zone in route53.list_hosted_zones()["HostedZones"]:
        if zone["Name"] != ZONE + ".":  # the account's zone is not Platykus's (docs/aws.md)
            zone_id = zone["Id"].split("/")[-1]
            tags = route53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)["ResourceTagSet"]
            found["route53:" + zone["Name"].rstrip(".")] = _tags(tags["Tags"])
    acm = stack.client("acm")
    for cert in acm.list_certificates()["CertificateSummaryList"]:
        found["acm:" + cert["DomainName"]] = _tags(
            acm.list_tags_for_certificate(CertificateArn=cert["CertificateArn"])["Tags"]
        )
    return found


def test_every_resource_carries_the_cluster_tags(stack):
    resources = {**_ec2_tagged(stack), **_iam_tagged(stack), **_other_tagged(stack)}
    # VPC, 6 subnets, IGW, NAT, EIP, 2 route tables, SG; 2 cluster + 7 IRSA + Karpenter + tenant roles,
    # OIDC provider; cluster, node group, 2 buckets, queue
    assert len(resources) >= 30, sorted(resources)
    untagged = {name: tags for name, tags in resources.items()
                if tags.get("platykus:cluster") != CLUSTER or tags.get("platykus:managed-by") != "platykus"}  # fmt: skip
    assert not untagged
    tenant = {name: tags for name, tags in resources.items() if "acme" in name}
    assert set(tenant) == {
        "platykus-aws-tenant-acme",
        "s3:platykus-aws-acme",
        "acm:acme.platykus.example.com",
        "route53:acme.platykus.example.com",
    }
    assert all(TENANT_TAGS.items() <= tags.items() for tags in tenant.values())


def test_irsa_and_tenant_roles_trust_only_their_service_accounts(stack):
    iam = stack.client("iam")
    catalog = yaml.safe_load((ROOT / "catalog/services.yml").read_text())["platykus_catalog_services"]
    expected = {"cert-manager": "platykus-system:cert-manager", "ebs-csi-driver": "platykus-storage:ebs-csi-controller-sa",
                "karpenter": "platykus-system:karpenter", "loki": "platykus-monitoring:loki"}  # fmt: skip
    assert {s for s, v in catalog.items() if v.get("irsa") and "aws" in v["providers"]} >= {"cert-manager", "karpenter"}
    for suffix, subject in expected.items():
        trust = iam.get_role(RoleName="%s-%s" % (CLUSTER, suffix))["Role"]["AssumeRolePolicyDocument"]
        (condition,) = [s["Condition"]["StringEquals"] for s in trust["Statement"]]
        assert sorted(condition.values()) == sorted(["system:serviceaccount:" + subject, "sts.amazonaws.com"])
    acme = iam.get_role(RoleName="platykus-aws-tenant-acme")["Role"]["AssumeRolePolicyDocument"]
    subs = [v for s in acme["Statement"] for k, v in s["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert subs == [["system:serviceaccount:acme-dev:platykus-aws", "system:serviceaccount:acme-prod:platykus-aws"]]
    policy = iam.get_role_policy(RoleName="platykus-aws-tenant-acme", PolicyName="platykus-tenant-scope")[
        "PolicyDocument"
    ]
    # Its own secrets and bucket by name, its own zone by id (test_tenant_zone_is_delegated...), and the
    # zone lookups that are not resource-scoped (ListHostedZones, GetChange).
    scoped = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert scoped.pop("FindZones") == ["*"] and len(scoped.pop("OwnRecords")) == 1
    resources = [r for found in scoped.values() for r in found]
    assert resources and all("acme" in r for r in resources), resources


def _zones(stack) -> dict[str, str]:
    return {z["Name"].rstrip("."): z["Id"] for z in stack.client("route53").list_hosted_zones()["HostedZones"]}


def _records(stack, zone_id: str) -> list[dict]:
    return stack.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]


def test_tenant_zone_is_delegated_and_only_the_tenants_role_writes_it(stack):
    zones = _zones(stack)
    assert set(zones) == {ZONE, "acme." + ZONE}
    name_servers = stack.client("route53").get_hosted_zone(Id=zones["acme." + ZONE])["DelegationSet"]["NameServers"]
    (delegation,) = [r for r in _records(stack, zones[ZONE]) if r["Type"] == "NS" and r["Name"] == "acme.%s." % ZONE]
    assert [v["Value"] for v in delegation["ResourceRecords"]] == name_servers
    policy = stack.client("iam").get_role_policy(
        RoleName="platykus-aws-tenant-acme", PolicyName="platykus-tenant-scope"
    )
    (records,) = [s for s in policy["PolicyDocument"]["Statement"] if s.get("Sid") == "OwnRecords"]
    assert records["Resource"] == ["arn:aws:route53:::hostedzone/" + zones["acme." + ZONE].split("/")[-1]]
    assert "route53:ChangeResourceRecordSets" in records["Action"]


def test_tenant_certificate_is_requested_and_its_validation_records_written(stack):
    acm = stack.client("acm")
    (summary,) = acm.list_certificates()["CertificateSummaryList"]
    cert = acm.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
    assert set(cert["SubjectAlternativeNames"]) == {"acme.platykus.example.com", "*.acme.platykus.example.com"}
    wanted = {(o["ResourceRecord"]["Name"], o["ResourceRecord"]["Value"]) for o in cert["DomainValidationOptions"]}
    # In the tenant's zone: under the delegation, the platform's zone would not answer for them.
    zones = _zones(stack)
    cnames = {
        (r["Name"], r["ResourceRecords"][0]["Value"])
        for r in _records(stack, zones["acme." + ZONE])
        if r["Type"] == "CNAME"
    }
    assert wanted and wanted == cnames
    assert not [r for r in _records(stack, zones[ZONE]) if r["Type"] == "CNAME"]


def test_isolation_audit_aws_side_names_a_policy_widened_by_hand(stack):
    """PLK-AWS-1 passed in provisioning and passes in verify-tenants.yml on the policies IAM holds; once
    acme's policy is widened by hand (as someone might in the console) the audit fails naming the tenant,
    its role and the statement, and what it reaches (the platform's zone, the records of every zone)."""
    rc, changed, out = stack.playbook("playbooks/aws-provision.yml", "--tags", "aws_tenants")
    assert rc == 0 and changed == 0 and "PLK-AWS-1 passed for 1 tenants" in out, out[-3000:]
    rc, _checks, out = stack.playbook("playbooks/verify-tenants.yml", audit_kubernetes=False)
    assert rc == 0 and "all 1 isolation checks passed" in out, out[-3000:]
    iam = stack.client("iam")
    held = iam.get_role_policy(RoleName="platykus-aws-tenant-acme", PolicyName="platykus-tenant-scope")[
        "PolicyDocument"
    ]
    widened = json.loads(json.dumps(held))
    for statement in widened["Statement"]:
        if statement.get("Sid") == "OwnRecords":
            statement["Resource"] = ["arn:aws:route53:::hostedzone/*"]
    iam.put_role_policy(
        RoleName="platykus-aws-tenant-acme", PolicyName="platykus-tenant-scope", PolicyDocument=json.dumps(widened)
    )
    try:
        rc, _checks, out = stack.playbook("playbooks/verify-tenants.yml", audit_kubernetes=False)
        assert rc != 0 and "isolation checks failed: PLK-AWS-1" in out, out[-3000:]
        platform_zone = _zones(stack)[ZONE].split("/")[-1]
        # The table's row: FAIL, the check, the tenant, its IAM role, namespace column "aws".
        assert re.search(r"FAIL +PLK-AWS-1 +acme +platykus-aws-tenant-acme +aws ", out), out[-3000:]
        flat = " ".join(out.split())  # the output callback wraps long lines
        assert "platykus-tenant-scope statement OwnRecords allows route53:ChangeResourceRecordSets" in flat, flat[
            -3000:
        ]
        assert "hostedzone/%s (platform zone)" % platform_zone in flat, flat[-3000:]
    finally:
        iam.put_role_policy(
            RoleName="platykus-aws-tenant-acme", PolicyName="platykus-tenant-scope", PolicyDocument=json.dumps(held)
        )


def test_kubeconfig_from_describe_cluster_with_the_collections_token(stack):
    config = json.loads(stack.kubeconfig.read_text())
    cluster = stack.client("eks").describe_cluster(name=EKS)["cluster"]
    assert config["clusters"][0]["cluster"]["server"] == cluster["endpoint"]
    user = config["users"][0]["user"]["exec"]
    proc = subprocess.run(
        [user["command"], *user["args"]],
        env=dict(stack.env, **{e["name"]: e["value"] for e in user["env"]}),
        capture_output=True,
        text=True,
        check=True,
    )
    credential = json.loads(proc.stdout)
    token = credential["status"]["token"]
    assert credential["kind"] == "ExecCredential" and token.startswith("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(token[11:] + "=" * (-len(token[11:]) % 4)).decode()
    assert "Action=GetCallerIdentity" in url and "x-k8s-aws-id" in url


# -- offboarding one tenant removes its AWS slice, nothing else ----------------------------------
def _slice(stack, tenant: str) -> dict:
    """What the emulator holds of one tenant's AWS slice."""
    iam, s3 = stack.client("iam"), stack.client("s3")
    zones = _zones(stack)
    acm = stack.client("acm")
    certs = [
        c["DomainName"]
        for c in acm.list_certificates()["CertificateSummaryList"]
        if c["DomainName"].startswith(tenant + ".")
    ]
    secrets = [
        x["Name"]
        for x in stack.client("secretsmanager").list_secrets()["SecretList"]
        if x["Name"].startswith("platykus/%s/" % tenant)
    ]
    return {
        "bucket": any(b["Name"] == "%s-%s" % (CLUSTER, tenant) for b in s3.list_buckets()["Buckets"]),
        "role": any(r["RoleName"] == "%s-tenant-%s" % (CLUSTER, tenant) for r in iam.list_roles()["Roles"]),
        "zone": "%s.%s" % (tenant, ZONE) in zones,
        "delegation": any(r["Name"] == "%s.%s." % (tenant, ZONE) for r in _records(stack, zones[ZONE])),
        "certificate": certs,
        "secrets": secrets,
    }


def test_offboarding_refuses_a_bad_tenant_name_before_any_call(stack):
    dead = dict(stack.env, AWS_ENDPOINT_URL="http://127.0.0.1:9")  # any call would fail otherwise
    rc, changed, out = stack.playbook(
        "playbooks/tenant-offboarding.yml", "--tags", "aws_tenants", env=dead, tenant="Zeta/x", confirm="Zeta/x"
    )
    assert rc != 0 and changed == 0
    assert "tenant=Zeta/x is not a tenant name" in out, out[-3000:]
    assert "Find the cluster's add-ons" not in out


def test_offboarding_removes_the_tenants_aws_slice_only(stack, tmp_path):
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "acme.yml").write_text((INVENTORY / "tenants" / "acme.yml").read_text())
    (tenants / "zeta.yml").write_text(yaml.safe_dump({"name": "zeta", "environments": ["prod"], "plan": "small"}))
    rc, _, out = stack.playbook(
        "playbooks/aws-provision.yml", "--tags", "aws_tenants", platykus_tenants_dir=str(tenants)
    )
    assert rc == 0, out[-5000:]
    acme_before = _slice(stack, "acme")
    zeta = _slice(stack, "zeta")
    assert zeta["bucket"] and zeta["role"] and zeta["zone"] and zeta["delegation"] and zeta["certificate"], zeta
    sm = stack.client("secretsmanager")
    sm.create_secret(Name="platykus/zeta/db", SecretString="s3cr3t-value")
    sm.create_secret(Name="platykus/zetaother/keep", SecretString="x")  # another prefix: stays
    stack.client("s3").put_object(Bucket="%s-zeta" % CLUSTER, Key="data/1", Body=b"x")
    offboard = ["playbooks/tenant-offboarding.yml", "--tags", "aws_tenants"]

    # A non-empty bucket blocks, named with the flag; nothing was deleted.
    rc, changed, out = stack.playbook(*offboard, tenant="zeta", confirm="zeta")
    assert rc != 0 and changed == 0
    assert "objects in bucket %s-zeta" % CLUSTER in out and "-e force=true" in out, out[-3000:]
    assert _slice(stack, "zeta") == {**zeta, "secrets": ["platykus/zeta/db"]}

    # Check mode reports what would go and deletes nothing.
    rc, changed, out = stack.playbook(*offboard, "--check", tenant="zeta", confirm="zeta", force=True)
    assert rc == 0 and changed > 0, out[-5000:]
    assert "platykus/zeta/db" in out and "s3cr3t-value" not in out
    assert _slice(stack, "zeta") == {**zeta, "secrets": ["platykus/zeta/db"]}

    rc, changed, out = stack.playbook(*offboard, tenant="zeta", confirm="zeta", force=True)
    assert rc == 0 and changed > 0, out[-5000:]
    assert "s3cr3t-value" not in out
    assert _slice(stack, "zeta") == {
        "bucket": False, "role": False, "zone": False, "delegation": False, "certificate": [], "secrets": []
    }  # fmt: skip
    assert _slice(stack, "acme") == acme_before
    assert [x["Name"] for x in sm.list_secrets()["SecretList"] if x["Name"].startswith("platykus/zetaother/")] == [
        "platykus/zetaother/keep"
    ]
    sm.delete_secret(SecretId="platykus/zetaother/keep", ForceDeleteWithoutRecovery=True)

    # Idempotent: a second offboarding (no force needed, nothing left) changes nothing.
    rc, changed, out = stack.playbook(*offboard, tenant="zeta", confirm="zeta")
    assert rc == 0 and changed == 0, changed_tasks(out)


def test_teardown_needs_confirmation(stack):
    rc, changed, out = stack.playbook("playbooks/aws-teardown.yml")
    assert rc != 0 and changed == 0 and "confirm with -e confirm=platykus" in out


def test_teardown_leaves_nothing(stack):
    rc, changed, out = stack.playbook("playbooks/aws-teardown.yml", confirm=EKS)
    assert rc == 0, out[-5000:]
    ec2, iam = stack.client("ec2"), stack.client("iam")
    assert stack.client("eks").list_clusters()["clusters"] == []
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:platykus:cluster", "Values": [CLUSTER]}])["Vpcs"] == []
    assert ec2.describe_subnets(Filters=[{"Name": "tag:platykus:cluster", "Values": [CLUSTER]}])["Subnets"] == []
    nats = ec2.describe_nat_gateways()["NatGateways"]
    assert all(n["State"] == "deleted" for n in nats)  # AWS lists deleted NAT gateways for a while too
    assert ec2.describe_addresses()["Addresses"] == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == []
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert stack.client("s3").list_buckets()["Buckets"] == []
    assert stack.client("sqs").list_queues().get("QueueUrls", []) == []
    assert stack.client("acm").list_certificates()["CertificateSummaryList"] == []
    route53 = stack.client("route53")
    (zone,) = route53.list_hosted_zones()[
        "HostedZones"
    ]  # the account's zone stays; the tenant's zone and our records go
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    assert {(r["Name"], r["Type"]) for r in records} == {(ZONE + ".", "NS"), (ZONE + ".", "SOA")}
    rc, changed, out = stack.playbook("playbooks/aws-teardown.yml", confirm=EKS)
    assert rc == 0 and changed == 0, changed_tasks(out)
