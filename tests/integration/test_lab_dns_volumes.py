"""DNS records and volumes on the lab, by the real controllers against the lab's AWS and API server.

external-dns v0.20.0 (AWS provider, the lab's Route53, TXT registry, domain filter = the inventory's
platform zone) and local-path-provisioner v0.0.30 (the lab's default StorageClass; kwok completes
its helper pods) run beside the lab (`platykus-lab up`). Assertions are on the lab's Route53 and
on what the API server holds.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import yaml
from conftest import LAB_INVENTORY, wait_for

from platykus_lab import aws as lab_aws
from platykus_lab import localpath

pytestmark = pytest.mark.lab

ZONE = yaml.safe_load((LAB_INVENTORY / "group_vars/all/cluster.yml").read_text())["platykus_route53_zone"]
OWNER = "platykus-lab"
OUTSIDE_ZONE = "elsewhere.test"  # a zone of the lab's Route53 outside the domain filter
TEST_LABEL = "platykus.io/dns-volumes-test"
PLAIN_NS = "dns-filter-test"  # not a tenant's: no hostname admission policy applies
HOSTNAME_ANNOTATION = "external-dns.alpha.kubernetes.io/hostname"
TARGET_ANNOTATION = "external-dns.alpha.kubernetes.io/target"
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}


# -- helpers ---------------------------------------------------------------------------------------
def meta(namespace: str, name: str, **annotations: str) -> dict:
    return {"name": name, "namespace": namespace, "labels": {TEST_LABEL: "true"}, "annotations": annotations}


def service(namespace: str, name: str, hostname: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(namespace, name, **{HOSTNAME_ANNOTATION: hostname}),
        "spec": {"type": "ClusterIP", "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def ingress(namespace: str, name: str, host: str, target: str) -> dict:
    """No ingress controller fills the lab's Ingress status: the target annotation names the address."""
    backend = {"service": {"name": name, "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta(namespace, name, **{TARGET_ANNOTATION: target}),
        "spec": {
            "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]
        },
    }


def records(route53, zone_id: str) -> dict[tuple[str, str], list[str]]:
    """(name, type) -> values of every record set in the zone (names without the final dot)."""
    pages = route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
    return {
        (rrset["Name"].rstrip("."), rrset["Type"]): [r["Value"] for r in rrset.get("ResourceRecords", [])]
        for page in pages
        for rrset in page["ResourceRecordSets"]
    }


def zone_id(route53, name: str) -> str | None:
    zones = route53.list_hosted_zones_by_name(DNSName=name)["HostedZones"]
    return next((z["Id"].split("/")[-1] for z in zones if z["Name"].rstrip(".") == name), None)


def owned_txt(found: dict, host: str) -> list[str]:
    """The TXT values external-dns wrote for the host's A record (registry name a-<host>)."""
    return found.get(("a-" + host, "TXT"), [])


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tenants_onboarded(lab):
    run = lab.playbook("playbooks/tenant-onboarding.yml")
    assert run.ok, run.output
    return run


@pytest.fixture(scope="module")
def route53(lab):
    return boto3.client("route53", **lab_aws.client_kwargs(lab.lab))


@pytest.fixture(scope="module")
def platform_zone(route53) -> str:
    """The inventory's platform zone, created in the lab's Route53 by `up`."""
    found = zone_id(route53, ZONE)
    assert found, "zone %s is not in the lab's Route53" % ZONE
    return found


@pytest.fixture(scope="module")
def outside_zone(route53) -> str:
    return (
        zone_id(route53, OUTSIDE_ZONE)
        or route53.create_hosted_zone(Name=OUTSIDE_ZONE, CallerReference="platykus-test-" + OUTSIDE_ZONE)["HostedZone"][
            "Id"
        ].split("/")[-1]
    )


@pytest.fixture(autouse=True)
def cleanup(lab):
    yield
    for kind in ("ingresses", "services", "pods", "persistentvolumeclaims", "namespaces"):
        lab.kubectl("delete", kind, "-A", "-l", TEST_LABEL, "--wait=false", check=False)


# -- DNS -------------------------------------------------------------------------------------------
def test_service_and_ingress_hostnames_become_records_and_go_with_them(lab, route53, platform_zone, tenants_onboarded):
    web, api = "web.acme.%s" % ZONE, "api.acme.%s" % ZONE
    lab.apply([service("acme-prod", "web", web), ingress("acme-prod", "api", api, "192.0.2.10")])
    cluster_ip = lab.get_json("service", "web", "-n", "acme-prod")["spec"]["clusterIP"]

    found = wait_for("A and TXT records for %s and %s" % (web, api), lambda: (
        (r := records(route53, platform_zone)).get((web, "A")) and r.get((api, "A")) and owned_txt(r, web) and owned_txt(r, api)
    ) and r)  # fmt: skip
    assert found[(web, "A")] == [cluster_ip]
    assert found[(api, "A")] == ["192.0.2.10"]
    web_txt = owned_txt(found, web)[0]
    assert "heritage=external-dns" in web_txt and "external-dns/owner=%s" % OWNER in web_txt
    assert "external-dns/resource=service/acme-prod/web" in web_txt
    assert "external-dns/resource=ingress/acme-prod/api" in owned_txt(found, api)[0]

    lab.kubectl("delete", "service", "web", "-n", "acme-prod")
    lab.kubectl("delete", "ingress", "api", "-n", "acme-prod")

    def gone():
        current = records(route53, platform_zone)
        return not any(name in (web, api, "a-" + web, "a-" + api) for name, _type in current)

    wait_for("the records of %s and %s to be removed" % (web, api), gone)


def test_hostname_outside_the_zone_filter_is_never_written(
    lab, route53, platform_zone, outside_zone, tenants_onboarded
):
    inside, outside = "control.acme.%s" % ZONE, "shop.%s" % OUTSIDE_ZONE
    # In a tenant namespace the hostname admission policy refuses it before external-dns sees it.
    refused = lab.apply(service("acme-prod", "outside", outside), check=False)
    assert refused.returncode != 0, refused.stdout
    # Where no admission policy applies, external-dns's domain filter keeps it out of Route53.
    lab.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PLAIN_NS, "labels": {TEST_LABEL: "true"}}})
    before = records(route53, outside_zone)
    lab.apply([service(PLAIN_NS, "outside", outside), service(PLAIN_NS, "control", inside)])
    # Once the control record is written, external-dns has seen both Services in the same sync.
    wait_for("the A record of %s" % inside, lambda: records(route53, platform_zone).get((inside, "A")))
    assert records(route53, outside_zone) == before  # only the zone's SOA and NS
    assert {t for _n, t in before} <= {"SOA", "NS"}
    assert not [name for name, _t in records(route53, platform_zone) if OUTSIDE_ZONE in name]


# -- volumes ---------------------------------------------------------------------------------------
def claim(namespace: str, name: str, size: str) -> dict:
    """A claim on the default StorageClass (no storageClassName)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(namespace, name),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }


def pod_using(namespace: str, name: str, claim_name: str) -> dict:
    """The claim's first consumer: WaitForFirstConsumer provisions on the node it is scheduled to."""
    container = {
        "name": "app",
        "image": "example/app",
        "securityContext": RESTRICTED_CONTAINER,
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(namespace, name),
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}],
        },
    }


def test_local_path_is_the_only_default_storage_class(lab):
    classes = lab.get_json("storageclasses")["items"]
    defaults = [
        c["metadata"]["name"]
        for c in classes
        if (c["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"
    ]
    assert defaults == ["local-path"]
    local = next(c for c in classes if c["metadata"]["name"] == "local-path")
    assert (local["provisioner"], local["reclaimPolicy"], local["volumeBindingMode"]) == (
        localpath.PROVISIONER,
        "Delete",
        "WaitForFirstConsumer",
    )


def test_tenant_claim_is_provisioned_counted_priced_and_released(lab, tenants_onboarded, tmp_path):
    namespace = "acme-dev"
    started = datetime.now(UTC).replace(microsecond=0)
    lab.apply([claim(namespace, "data", "2Gi"), pod_using(namespace, "app", "data")])
    pvc = wait_for("PVC %s/data Bound" % namespace, lambda: (
        p := lab.get_json("pvc", "data", "-n", namespace))["status"].get("phase") == "Bound" and p)  # fmt: skip
    assert pvc["spec"]["storageClassName"] == "local-path"
    pv = lab.get_json("pv", pvc["spec"]["volumeName"])
    # The claim is Bound before the scheduler's retry binds the pod that waited for it: wait for both.
    node = wait_for("pod %s/app scheduled" % namespace, lambda: (
        lab.get_json("pod", "app", "-n", namespace)["spec"].get("nodeName")))  # fmt: skip
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == localpath.PROVISIONER
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["claimRef"]["name"] == "data" and pv["spec"]["capacity"]["storage"] == "2Gi"
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == [node]  # the volume lives on the pod's node
    assert not _helper_pods(lab)  # kwok completed the helper pod and the provisioner removed it

    # Counted by the tenant's quota: a claim over what is left is refused by the API server.
    used = lab.get_json("resourcequota", "-n", namespace)["items"][0]["status"]["used"]
    assert used["requests.storage"] == "2Gi" and used["persistentvolumeclaims"] == "1"
    over = lab.apply(claim(namespace, "too-big", "99Gi"), check=False)
    assert over.returncode != 0 and "exceeded quota" in over.stderr and "requests.storage" in over.stderr, over.stderr

    report = _usage_report(lab, tmp_path, started - timedelta(minutes=5), started + timedelta(hours=1))
    row = next(r for r in report["namespaces"] if r["name"] == namespace)
    assert row["storage_gib_hours"] > 0 and row["cost"]["storage"] > 0, row

    # Released per the reclaim policy (Delete): the PV goes once the claim is deleted.
    lab.kubectl("delete", "pod", "app", "-n", namespace, "--grace-period=0", "--force")
    lab.kubectl("delete", "pvc", "data", "-n", namespace)
    wait_for("PV %s deleted" % pv["metadata"]["name"], lambda: lab.kubectl(
        "get", "pv", pv["metadata"]["name"], check=False).returncode != 0)  # fmt: skip
    assert not _helper_pods(lab)


def _helper_pods(lab) -> list[str]:
    pods = lab.get_json("pods", "-n", localpath.NAMESPACE, "-l", "%s=true" % localpath.COMPLETE_LABEL)["items"]
    return [p["metadata"]["name"] for p in pods]


def _usage_report(lab, folder, start: datetime, end: datetime) -> dict:
    def iso(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    extra = {
        "usage_report_dir": str(folder),
        "usage_report_window_start": iso(start),
        "usage_report_window_end": iso(end),
        "usage_report_now": iso(end),
        "platykus_kubeconfig": str(lab.kubeconfig),
    }
    run = lab.playbook("playbooks/usage-report.yml", extra_vars=extra)
    assert run.ok, run.output
    return json.loads((folder / ("usage-%s.json" % iso(end)[:10])).read_text())


# -- onboarding's AWS slice and the audit -----------------------------------------------------------
def test_onboarding_gives_each_tenant_its_identity_bucket_and_store(lab, tenants_onboarded):
    admin = lab_aws.client_kwargs(lab.lab)
    users = {u["UserName"] for u in boto3.client("iam", **admin).list_users()["Users"]}
    buckets = {b["Name"] for b in boto3.client("s3", **admin).list_buckets()["Buckets"]}
    for tenant in ("acme", "globex", "initech"):
        assert "%s-tenant-%s" % (OWNER, tenant) in users and "%s-%s" % (OWNER, tenant) in buckets
    for tenant in ("acme", "globex"):
        store = wait_for("ClusterSecretStore platykus-secrets-%s Ready" % tenant, lambda t=tenant: _ready_store(lab, t))
        auth = store["spec"]["provider"]["aws"]["auth"]["secretRef"]["accessKeyIDSecretRef"]
        # its own key, in the platform namespace (never in a tenant namespace)
        assert auth == {"name": "platykus-aws-%s" % tenant, "namespace": "platykus-system", "key": "access-key-id"}
        assert all(ns.startswith(tenant + "-") for ns in store["spec"]["conditions"][0]["namespaces"])
    again = lab.playbook("playbooks/tenant-onboarding.yml")
    assert again.ok and again.changed == 0, again.output


def test_bad_secret_path_is_refused_before_anything_is_written(lab, tenants_onboarded):
    bad = [{"namespace": "acme-prod", "name": "stolen", "key": "platykus/globex/db"}]
    run = lab.playbook("playbooks/tenant-onboarding.yml", extra_vars={"platykus_tenant_external_secrets": bad})
    assert not run.ok and run.changed == 0
    assert (
        "nothing was written: external_secrets[0].key: secret 'platykus/globex/db' is outside tenant 'acme''s prefix"
        in run.output
    )
    assert lab.kubectl("get", "externalsecret", "stolen", "-n", "acme-prod", check=False).returncode != 0


def test_audit_fails_a_tenant_issuer_and_passes_the_tenant_stores(lab, tenants_onboarded):
    verify = lab.playbook("playbooks/verify-tenants.yml", extra_vars={"tenant": "acme"})
    assert "PLK-SEC-1" in verify.output and not re.findall(r"FAIL\s+PLK-", verify.output), verify.output
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": meta("acme-dev", "own-ca"),
        "spec": {"selfSigned": {}},
    }
    lab.apply(issuer)
    try:
        verify = lab.playbook("playbooks/verify-tenants.yml", extra_vars={"tenant": "acme"})
        assert re.search(r"FAIL\s+PLK-CERT-1\s+acme\s+\S+\s+acme-dev", verify.output), verify.output
    finally:
        lab.kubectl("delete", "issuer", "own-ca", "-n", "acme-dev", check=False)


def _ready_store(lab, tenant: str) -> dict | None:
    store = lab.get_json("clustersecretstore", "platykus-secrets-%s" % tenant)
    conditions = store.get("status", {}).get("conditions", [])
    return store if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) else None
