# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._platform.aws_stack import (
    COST_CENTER_TAG,
    TENANT_TAG,
    irsa_trust,
    service_buckets,
    stack_spec,
    tenant_identity,
)

SETTINGS = {
    "platykus_cluster_name": "platykus-aws",
    "platykus_eks_cluster_name": "platykus",
    "platykus_aws_region": "eu-west-1",
    "platykus_aws_account_id": "111122223333",
    "platykus_route53_zone": "platykus.example.com",
    "platykus_aws_zones": ["eu-west-1a", "eu-west-1b"],
    "platykus_aws_vpc_cidr": "10.20.0.0/16",
    "platykus_aws_public_subnet_cidrs": ["10.20.0.0/20", "10.20.16.0/20"],
    "platykus_aws_private_subnet_cidrs": ["10.20.64.0/18", "10.20.128.0/18"],
    "platykus_eks_version": "1.33",
    "platykus_eks_system_pool": {"instance_types": ["m6i.large"], "min_size": 2, "desired_size": 2, "max_size": 4},
    "platykus_aws_tags": {"platykus:environment": "test"},
}
ROLE_ARN = "arn:aws:iam::111122223333:role/platykus-aws-"
RELEASES = [
    {"service": "karpenter", "release": "karpenter", "namespace": "platykus-system", "state": "present",
     "values": {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN + "karpenter"}}},
     "irsa": {"role": "platykus-aws-karpenter", "policy": {"Statement": [{"Resource": ["*"]}]}}},
    {"service": "aws-ebs-csi-driver", "release": "aws-ebs-csi-driver", "namespace": "platykus-storage", "state": "present",
     "values": {"controller": {"serviceAccount": {"name": "ebs-csi-controller-sa", "annotations": {
         "eks.amazonaws.com/role-arn": ROLE_ARN + "ebs"}}}},
     "irsa": {"role": "platykus-aws-ebs-csi-driver", "policy": {}}},
    {"service": "loki", "release": "loki", "namespace": "platykus-monitoring", "state": "present", "values": {},
     "irsa": {"role": "platykus-aws-loki", "policy": {"Statement": [
         {"Resource": ["arn:aws:s3:::platykus-aws-loki", "arn:aws:s3:::platykus-aws-loki/*"]}]}}},
    {"service": "ingress-nginx", "release": "ingress-nginx", "namespace": "platykus-ingress", "state": "present"},
]  # fmt: skip
TENANTS = [{"name": "acme", "environments": ["dev", {"name": "prod"}], "cost_center": "cc-1001"}]


def spec(**changes):
    settings = copy.deepcopy(SETTINGS)
    settings.update(changes)
    return stack_spec(settings, RELEASES, TENANTS)


def test_subnets_one_public_and_one_private_per_zone_with_discovery_tags():
    subnets = spec()["network"]["subnets"]
    assert [(s["tier"], s["zone"]) for s in subnets] == [
        ("public", "eu-west-1a"),
        ("public", "eu-west-1b"),
        ("private", "eu-west-1a"),
        ("private", "eu-west-1b"),
    ]
    private = subnets[2]["tags"]
    assert private["karpenter.sh/discovery"] == "platykus"
    assert private["kubernetes.io/role/internal-elb"] == "1"
    assert private["platykus:cluster"] == "platykus-aws" and private["platykus:environment"] == "test"
    assert subnets[0]["tags"]["kubernetes.io/role/elb"] == "1"


def test_irsa_roles_from_the_catalog_with_their_service_accounts():
    roles = {r["service"]: r for r in spec()["irsa"]}
    assert set(roles) == {"karpenter", "aws-ebs-csi-driver", "loki"}
    assert roles["aws-ebs-csi-driver"]["service_account"] == "ebs-csi-controller-sa"
    assert roles["karpenter"]["service_account"] == "karpenter"  # no name in the values: the release's
    assert roles["loki"]["service_account"] == "loki"
    assert roles["loki"]["tags"]["platykus:service"] == "loki"


def test_buckets_are_the_whole_bucket_arns_of_irsa_policies():
    assert spec()["buckets"] == [{"name": "platykus-aws-loki", "tags": spec()["network"]["tags"]}]
    assert service_buckets([{"policy": {"Statement": [{"Resource": "arn:aws:s3:::a-bucket/*"}]}}], {}) == []


def test_tenant_gets_scoped_policy_namespaced_subjects_and_tags():
    (acme,) = spec()["tenants"]
    assert acme["role"] == "platykus-aws-tenant-acme" and acme["bucket"] == "platykus-aws-acme"
    assert acme["subjects"] == [("acme-dev", "platykus-aws"), ("acme-prod", "platykus-aws")]
    assert acme["tags"][TENANT_TAG] == "acme" and acme["tags"][COST_CENTER_TAG] == "cc-1001"
    resources = [r for s in acme["policy"]["Statement"] for r in s["Resource"]]
    assert all("acme" in r for r in resources)
    assert not any("*" in r.replace("acme/*", "").replace("acme-", "") for r in resources if "secret" not in r)


@pytest.mark.parametrize("changes, field, fix", [
    ({"platykus_aws_private_subnet_cidrs": ["10.20.8.0/24", "10.20.128.0/18"]}, "platykus_aws_private_subnet_cidrs[0]",
     "overlaps 10.20.0.0/20"),
    ({"platykus_aws_public_subnet_cidrs": ["10.30.0.0/20", "10.20.16.0/20"]}, "platykus_aws_public_subnet_cidrs[0]",
     "not inside platykus_aws_vpc_cidr"),
    ({"platykus_aws_zones": ["eu-west-1a", "us-east-1b"]}, "platykus_aws_zones[1]", "not a zone of region eu-west-1"),
    ({"platykus_aws_zones": ["eu-west-1a"]}, "platykus_aws_zones", "at least two zones"),
    ({"platykus_eks_version": "1.19"}, "platykus_eks_version", "not a supported EKS version"),
    ({"platykus_aws_irsa_services": ["karpenter", "ingress-nginx"]}, "platykus_aws_irsa_services[1]",
     "has no enabled irsa role"),
    ({"platykus_aws_vpc_cidr": "10.20.0.0/33"}, "platykus_aws_vpc_cidr", "write it like 10.20.0.0/16"),
    ({"platykus_aws_account_id": "1234"}, "platykus_aws_account_id", "12 digits"),
    ({"platykus_eks_system_pool": {"instance_types": [], "min_size": 3, "desired_size": 2, "max_size": 4}},
     "platykus_eks_system_pool", "min_size <= desired_size <= max_size"),
])  # fmt: skip
def test_bad_input_names_the_variable_and_the_fix(changes, field, fix):
    with pytest.raises(PlatykusError) as err:
        spec(**changes)
    assert "%s: " % field in str(err.value) and fix in str(err.value)
    assert str(err.value).startswith("Invalid AWS inventory, nothing was called")


def test_every_problem_is_reported_at_once():
    with pytest.raises(PlatykusError) as err:
        spec(platykus_eks_version="1.2", platykus_aws_zones=["eu-west-1a", "eu-west-2b"])
    assert "platykus_eks_version" in str(err.value) and "platykus_aws_zones[1]" in str(err.value)


def test_irsa_trust_names_only_the_service_accounts_and_sts():
    trust = irsa_trust(
        "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC/", "111122223333", [("platykus-system", "karpenter")]
    )
    (statement,) = trust["Statement"]
    host = "oidc.eks.eu-west-1.amazonaws.com/id/ABC"
    assert statement["Principal"]["Federated"] == "arn:aws:iam::111122223333:oidc-provider/" + host
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        host + ":sub": "system:serviceaccount:platykus-system:karpenter",
        host + ":aud": "sts.amazonaws.com",
    }
    many = irsa_trust(host, "111122223333", [("b", "x"), ("a", "x")])["Statement"][0]["Condition"]["StringEquals"]
    assert many[host + ":sub"] == ["system:serviceaccount:a:x", "system:serviceaccount:b:x"]
    with pytest.raises(PlatykusError):
        irsa_trust(host, "111122223333", [])


def test_tenant_identity_names_the_slice_offboarding_removes_as_the_stack_does():
    # Offboarding names a tenant's resources from the inventory's settings alone (the tenant may be gone
    # from the inventory): the same names the stack gave them.
    (tenant,) = spec()["tenants"]
    identity = tenant_identity(
        "acme",
        SETTINGS["platykus_cluster_name"],
        SETTINGS["platykus_aws_account_id"],
        SETTINGS["platykus_aws_region"],
        SETTINGS["platykus_route53_zone"],
    )
    assert {k: tenant[k] for k in identity} == identity
    assert identity["bucket"] == "platykus-aws-acme" and identity["secret_prefix"] == "platykus/acme/"
    assert identity["role"] == "platykus-aws-tenant-acme"
