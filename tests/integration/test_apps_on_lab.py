"""Apps on the lab, deployed as the tenant (its CI ServiceAccount's token), never as an admin.

Everything is asserted on what the API server holds: objects, pods, releases, refusals.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import boto3
import pytest
import yaml
from conftest import LAB_INVENTORY, run_module, wait_for
from cryptography import x509
from test_lab_tls_secrets import catalog_objects, ready

from platykus_lab import aws as lab_aws

pytestmark = pytest.mark.lab

NS = "acme-dev"
APP = "shop"
SPEC = yaml.safe_load((LAB_INVENTORY / "apps" / "acme" / "shop.yml").read_text())
CATALOG = yaml.safe_load((LAB_INVENTORY / "group_vars/all/apps.yml").read_text())["platykus_app_catalog"]
TENANT_USER = f"system:serviceaccount:{NS}:ci-deployer"
HOST = SPEC["domains"][0]
SPEC_OTHER_HOST = "portal.globex.apps.platykus-lab.test"  # globex's, not acme's
ZONE = yaml.safe_load((LAB_INVENTORY / "group_vars/all/cluster.yml").read_text())["platykus_route53_zone"]
# These tests prove what the API server holds and the HPA under kwok's simulated load: the app's
# pods stay on kwok nodes (the catalog without its real-node placement). What the processes really
# do on the real node is test_lab_apps_real.py's.
ON_KWOK = {"platykus_app_catalog": {key: value for key, value in CATALOG.items() if key != "placement"}}
INGRESS_TARGET = yaml.safe_load((LAB_INVENTORY / "group_vars/all/apps.yml").read_text())["platykus_app_ingress_target"]


@pytest.fixture(scope="module")
def tenant(lab, tmp_path_factory):
    """The platform CA (the catalog's cert-manager objects, as site.yml applies them); tenants
    onboarded (with their domains and the hostname policy); acme-dev's CI kubeconfig."""
    lab.apply(catalog_objects("cert-manager"))
    wait_for("ClusterIssuer platykus-default Ready", lambda: ready(lab.get_json("clusterissuer", "platykus-default")))
    onboarding = lab.playbook("playbooks/tenant-onboarding.yml")
    assert onboarding.ok, onboarding.output
    folder = tmp_path_factory.mktemp("app-credentials")
    status, result = run_module(
        lab,
        "tenant_kubeconfig",
        {"namespace": NS, "dest": str(folder / f"{NS}.kubeconfig"), "kubeconfig": str(lab.kubeconfig)},
    )
    assert status == "CHANGED", result
    yield folder
    lab.kubectl(
        "delete",
        "deploy,sts,cronjob,job,svc,ingress,hpa,pdb,configmap,certificate",
        "-n",
        NS,
        "-l",
        "platykus.io/app",
        "--wait=false",
        check=False,
    )


def deploy(lab, creds: Path, playbook: str = "playbooks/app-deploy.yml", **extra):
    return lab.playbook(
        playbook,
        extra_vars={
            "app": f"acme/{APP}",
            "platykus_app_credentials_dir": str(creds),
            **ON_KWOK,
            "platykus_app_rollout_timeout": 120,
            **extra,
        },
    )


def as_tenant(lab, creds: Path, *args: str, check: bool = True, input: str | None = None):
    return lab.kubectl(f"--kubeconfig={creds / (NS + '.kubeconfig')}", *args, check=check, input=input)


def releases(lab) -> tuple[int, dict[int, dict]]:
    data = lab.get_json("configmap", f"{APP}-releases", "-n", NS)["data"]
    return int(data["current"]), {int(k[1:]): json.loads(v) for k, v in data.items() if k.startswith("v")}


def running_pods(lab, process: str) -> list[dict]:
    pods = lab.get_json("pods", "-n", NS, "-l", f"platykus.io/app={APP},platykus.io/process={process}")["items"]
    return [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def rolled_out(lab, process: str, replicas: int, checksum: str | None = None):
    pods = running_pods(lab, process)
    sums = {p["metadata"]["annotations"]["platykus.io/config-checksum"] for p in pods}
    return len(pods) == replicas and (checksum is None or sums == {checksum})


@pytest.fixture(scope="module")
def deployed(lab, tenant):
    first = deploy(lab, tenant)
    assert first.ok, first.output
    return first


def test_deploy_as_the_tenant_creates_every_object(lab, deployed):
    assert "https://shop.acme.apps.platykus-lab.test/" in deployed.output
    web = lab.get_json("deployment", "shop-web", "-n", NS)
    assert web["spec"]["replicas"] == 2
    pod = web["spec"]["template"]["spec"]
    assert (
        pod["securityContext"]["runAsNonRoot"] is True
        and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    )
    assert pod["containers"][0]["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    ingress = lab.get_json("ingress", "shop", "-n", NS)
    certificate = lab.get_json("certificate", "shop-tls", "-n", NS)["spec"]
    assert certificate["issuerRef"]["name"] == "platykus-default" and certificate["dnsNames"] == [HOST]
    assert (
        ingress["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"]
        == "shop.acme.apps.platykus-lab.test"
    )
    assert ingress["spec"]["tls"][0]["hosts"] == ["shop.acme.apps.platykus-lab.test"]
    assert lab.get_json("hpa", "shop-worker", "-n", NS)["spec"]["maxReplicas"] == 3
    assert lab.get_json("pdb", "shop-web", "-n", NS)["spec"]["maxUnavailable"] == 1
    assert lab.get_json("cronjob", "shop-cleanup", "-n", NS)["spec"]["schedule"] == "0 3 * * *"
    assert lab.get_json("service", "shop-web", "-n", NS)["spec"]["ports"][0]["port"] == 80
    current, history = releases(lab)
    assert current == 1 and history[1]["by"] == TENANT_USER and history[1]["image"] == SPEC["image"]
    wait_for("2 web pods Running", lambda: rolled_out(lab, "web", 2))


def test_release_job_completes_before_the_rollout(lab, deployed):
    job = lab.get_json("job", "shop-release-1", "-n", NS)
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])
    web_pods = lab.get_json("replicasets", "-n", NS, "-l", "platykus.io/process=web")["items"]
    assert all(job["status"]["completionTime"] <= rs["metadata"]["creationTimestamp"] for rs in web_pods)


def test_second_run_changes_nothing(lab, tenant, deployed):
    again = deploy(lab, tenant)
    assert again.ok and again.changed == 0, again.output
    assert releases(lab)[0] == 1


def test_check_mode_writes_nothing(lab, tenant, deployed):
    before = lab.get_json("configmap", f"{APP}-config", "-n", NS)["metadata"]["resourceVersion"]
    run = lab.playbook(
        "playbooks/app-config.yml",
        extra_vars={
            "app": f"acme/{APP}",
            "platykus_app_credentials_dir": str(tenant),
            **ON_KWOK,
            "config_set": {"LOG_LEVEL": "trace"},
        },
        check=True,
    )
    assert run.ok and run.changed == 1, run.output
    assert lab.get_json("configmap", f"{APP}-config", "-n", NS)["metadata"]["resourceVersion"] == before
    assert releases(lab)[0] == 1


def test_config_change_is_a_release_and_rolls_the_pods(lab, tenant, deployed):
    old = lab.get_json("deployment", "shop-web", "-n", NS)["spec"]["template"]["metadata"]["annotations"][
        "platykus.io/config-checksum"
    ]
    run = deploy(lab, tenant, playbook="playbooks/app-config.yml", config_set={"LOG_LEVEL": "debug"})
    assert run.ok, run.output
    assert lab.get_json("configmap", f"{APP}-config", "-n", NS)["data"]["LOG_LEVEL"] == "debug"
    new = lab.get_json("deployment", "shop-web", "-n", NS)["spec"]["template"]["metadata"]["annotations"][
        "platykus.io/config-checksum"
    ]
    assert new != old
    assert rolled_out(lab, "web", 2, new)  # the module waited for the rollout
    current, history = releases(lab)
    assert current == 2 and history[2]["description"] == "Config change"
    assert lab.get_json("job", "shop-release-2", "-n", NS)["status"].get("succeeded") == 1


def test_scaling_is_not_a_release(lab, tenant, deployed):
    run = lab.playbook(
        "playbooks/app-scale.yml",
        extra_vars={
            "app": f"acme/{APP}",
            "platykus_app_credentials_dir": str(tenant),
            **ON_KWOK,
            "web": 3,
        },
    )
    assert run.ok, run.output
    assert lab.get_json("deployment", "shop-web", "-n", NS)["spec"]["replicas"] == 3
    assert releases(lab)[0] == 2  # scaling keeps the running release, config set by app-config.yml included
    assert lab.get_json("configmap", f"{APP}-config", "-n", NS)["data"]["LOG_LEVEL"] == "debug"
    wait_for("3 web pods Running", lambda: rolled_out(lab, "web", 3))


def test_rollback_restores_the_previous_image_and_config(lab, tenant, deployed):
    first = releases(lab)[1][1]
    run = deploy(lab, tenant, playbook="playbooks/app-rollback.yml", release=1)
    assert run.ok, run.output
    current, history = releases(lab)
    assert history[current]["description"] == "Rollback to v1"
    assert history[current]["checksum"] == first["checksum"] and history[current]["image"] == first["image"]
    assert lab.get_json("configmap", f"{APP}-config", "-n", NS)["data"]["LOG_LEVEL"] == "info"
    template = lab.get_json("deployment", "shop-web", "-n", NS)["spec"]["template"]
    assert template["metadata"]["annotations"]["platykus.io/config-checksum"] == first["checksum"]
    assert template["spec"]["containers"][0]["image"] == first["image"]


def test_failed_rollout_goes_back_by_itself(lab, tenant, deployed):
    """Pods of a broken image cannot start (an admission policy refuses them, as a crash would keep
    them from being ready): the rollout times out, the previous release is back, the play fails."""
    broken = "registry.platykus-lab.test/acme/shop:9.9.9-broken"
    guard = _refuse_pods_with_image(broken)
    lab.apply(guard)
    try:
        current_before = releases(lab)[0]
        run = lab.playbook(
            "playbooks/app-deploy.yml",
            extra_vars={
                "app_file": str(_spec_file(tenant, image=broken)),
                "platykus_app_credentials_dir": str(tenant),
                **ON_KWOK,
                "platykus_app_rollout_timeout": 20,
            },
        )
        assert not run.ok
        assert "Failed to roll out release" in run.output and f"rolled back to v{current_before}" in run.output
        current, history = releases(lab)
        assert current == current_before and history[max(history)]["status"] == "failed"
        images = {
            lab.get_json("deployment", "shop-web", "-n", NS)["spec"]["template"]["spec"]["containers"][0]["image"]
        }
        assert images == {SPEC["image"]}
    finally:
        lab.kubectl(
            "delete", "validatingadmissionpolicy,validatingadmissionpolicybinding", "test-broken-image", check=False
        )


def test_app_over_the_quota_is_refused_before_anything_is_written(lab, tenant, deployed):
    spec = copy.deepcopy(SPEC)
    spec["name"] = "bigshop"
    spec["domains"] = []
    spec["processes"]["web"].update(replicas=20, size="performance-m")
    status, result = run_module(
        lab, "app", {"spec": spec, "catalog": CATALOG, "kubeconfig": str(tenant / f"{NS}.kubeconfig")}
    )
    assert status == "FAILED"
    assert "ResourceQuota acme-dev/tenant-quota" in result["msg"] and "requests.cpu" in result["msg"]
    assert "nothing was written" in result["msg"]
    assert lab.get_json("all,configmap", "-n", NS, "-l", "platykus.io/app=bigshop")["items"] == []


def test_another_tenants_hostname_is_refused_by_the_api_server(lab, tenant, deployed):
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "steal", "namespace": NS},
        "spec": {
            "rules": [
                {
                    "host": "portal.globex.apps.platykus-lab.test",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "shop-web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    proc = lab.kubectl(
        f"--kubeconfig={tenant / (NS + '.kubeconfig')}", "apply", "-f", "-", check=False, input=yaml.safe_dump(ingress)
    )
    assert proc.returncode != 0
    assert "platykus-tenant-hostnames" in proc.stderr and "portal.globex.apps.platykus-lab.test" in proc.stderr
    mine = copy.deepcopy(ingress)
    mine["spec"]["rules"][0]["host"] = "steal.acme.apps.platykus-lab.test"
    lab.kubectl(
        f"--kubeconfig={tenant / (NS + '.kubeconfig')}",
        "apply",
        "--dry-run=server",
        "-f",
        "-",
        input=yaml.safe_dump(mine),
    )


def test_certificate_for_another_tenants_hostname_is_refused_by_the_api_server(lab, tenant, deployed):
    """The platform CA signs what a Certificate asks: the hostname policy holds Certificates to the
    tenant's domains too, for `kubectl apply` as the tenant."""

    def certificate(host: str) -> str:
        issuer = {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "platykus-default"}
        spec = {"secretName": "steal-tls", "dnsNames": [host], "issuerRef": issuer}
        meta = {"name": "steal", "namespace": NS}
        return yaml.safe_dump(
            {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": meta, "spec": spec}
        )

    refused = as_tenant(lab, tenant, "apply", "-f", "-", check=False, input=certificate(SPEC_OTHER_HOST))
    assert refused.returncode != 0
    assert "platykus-tenant-hostnames" in refused.stderr and SPEC_OTHER_HOST in refused.stderr
    as_tenant(
        lab, tenant, "apply", "--dry-run=server", "-f", "-", input=certificate("steal.acme.apps.platykus-lab.test")
    )


def test_isolation_audit_checks_the_hostname_policy(lab, tenant):
    audit = lab.playbook("playbooks/verify-tenants.yml", extra_vars={"tenant": "acme"})
    assert audit.ok, audit.output
    assert "PASS    HOST-1      acme" in audit.output


def test_image_or_size_outside_the_catalog_is_refused_naming_the_fields(lab, tenant):
    spec = copy.deepcopy(SPEC)
    spec["image"] = "docker.io/library/nginx:latest"
    spec["processes"]["web"]["size"] = "huge"
    spec["domains"] = ["shop.globex.apps.platykus-lab.test"]
    status, result = run_module(
        lab,
        "app",
        {
            "spec": spec,
            "catalog": CATALOG,
            "tenant_domains": ["acme.apps.platykus-lab.test"],
            "kubeconfig": str(tenant / f"{NS}.kubeconfig"),
        },
    )
    assert status == "FAILED"
    for field in ("image:", "processes.web.size:", "domains[0]:"):
        assert field in result["msg"], result["msg"]


def test_hpa_scales_the_worker_under_simulated_load(lab, tenant, deployed):
    wait_for("1 worker pod", lambda: len(running_pods(lab, "worker")) >= 1)
    for pod in running_pods(lab, "worker"):
        as_tenant(
            lab,
            tenant,
            "annotate",
            "--overwrite",
            "pod",
            "-n",
            NS,
            pod["metadata"]["name"],
            "kwok.x-k8s.io/usage-cpu=450m",
        )
    wait_for(
        "the HPA to scale shop-worker to 3",
        lambda: lab.get_json("hpa", "shop-worker", "-n", NS).get("status", {}).get("desiredReplicas") == 3,
        timeout=150,
    )


def test_app_domain_certificate_is_issued_by_the_platform_ca(lab, deployed):
    """cert-manager (real, on the lab) signs the app's Certificate with the platform CA into the
    Secret the Ingress serves."""
    wait_for("Certificate shop-tls Ready", lambda: ready(lab.get_json("certificate", "shop-tls", "-n", NS)))
    tls = lab.get_json("secret", "shop-tls", "-n", NS)["data"]
    leaf = x509.load_pem_x509_certificate(base64.b64decode(tls["tls.crt"]))
    ca_secret = lab.get_json("secret", "platykus-ca", "-n", "platykus-system")["data"]
    ca = x509.load_pem_x509_certificate(base64.b64decode(ca_secret["tls.crt"]))
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == [HOST]
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)  # raises unless the platform CA's key signed it
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_app_domain_record_is_written_to_the_lab_route53_zone(lab, deployed):
    """external-dns (real, on the lab) writes the app's host into the platform zone, owned by the
    Ingress, at the platform's ingress address."""
    route53 = boto3.client("route53", **lab_aws.client_kwargs(lab.lab))
    zones = route53.list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"]
    zone_id = next(z["Id"] for z in zones if z["Name"].rstrip(".") == ZONE)

    def records():
        pages = route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
        found = {
            (r["Name"].rstrip("."), r["Type"]): [v["Value"] for v in r.get("ResourceRecords", [])]
            for page in pages
            for r in page["ResourceRecordSets"]
        }
        return found if (HOST, "A") in found and ("a-" + HOST, "TXT") in found else None

    found = wait_for(f"A and TXT records for {HOST}", records, timeout=90)
    assert found[(HOST, "A")] == [INGRESS_TARGET]
    assert f"external-dns/resource=ingress/{NS}/{APP}" in found[("a-" + HOST, "TXT")][0]


def test_hpa_scales_the_web_process_under_simulated_load(lab, tenant, deployed):
    """app-scale.yml gives web autoscale bounds; kwok reports each web pod's CPU above the target,
    metrics-server serves it and the controller manager's HPA scales web to its maximum."""
    run = lab.playbook(
        "playbooks/app-scale.yml",
        extra_vars={
            "app": f"acme/{APP}",
            "platykus_app_credentials_dir": str(tenant),
            **ON_KWOK,
            "web": {"min": 2, "max": 4, "cpu_percent": 60},
        },
    )
    assert run.ok, run.output
    hpa = lab.get_json("hpa", "shop-web", "-n", NS)["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 4)
    wait_for("2 or more web pods Running", lambda: len(running_pods(lab, "web")) >= 2)
    for pod in running_pods(lab, "web"):  # 400m of a 250m request: 160% against a 60% target
        as_tenant(lab, tenant, "annotate", "--overwrite", "pod", "-n", NS, pod["metadata"]["name"],
                  "kwok.x-k8s.io/usage-cpu=400m")  # fmt: skip
    wait_for(
        "the HPA to scale shop-web to 4",
        lambda: lab.get_json("deployment", "shop-web", "-n", NS)["spec"]["replicas"] == 4,
        timeout=150,
    )
    wait_for("4 web pods Running", lambda: len(running_pods(lab, "web")) == 4)


def test_destroy_needs_confirmation_then_removes_the_app(lab, tenant, deployed):
    refused = deploy(lab, tenant, playbook="playbooks/app-destroy.yml")
    assert not refused.ok and "must repeat the app's name" in refused.output
    run = deploy(lab, tenant, playbook="playbooks/app-destroy.yml", confirm=APP)
    assert run.ok, run.output
    left = lab.get_json("deploy,svc,ingress,hpa,pdb,cronjob,configmap", "-n", NS, "-l", f"platykus.io/app={APP}")[
        "items"
    ]
    assert left == []


def _spec_file(folder: Path, **changes) -> Path:
    spec = dict(copy.deepcopy(SPEC), **changes)
    path = folder / "shop-changed.yml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _refuse_pods_with_image(image: str) -> list[dict]:
    name = "test-broken-image"
    api = "admissionregistration.k8s.io/v1"
    rules = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]
    return [
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": rules},
                "validations": [
                    {
                        "expression": f"!object.spec.containers.exists(c, c.image == '{image}')",
                        "message": "this image cannot start",
                    }
                ],
            },
        },
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NS}}},
            },
        },
    ]
