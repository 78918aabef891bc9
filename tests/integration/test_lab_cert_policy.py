"""Hostnames and certificates a tenant may not have (issue 27, items 1, 2 and 11), on the lab's
real API server, cert-manager, external-dns and Route53 (moto).

Every attack is made as acme's developer with kubectl (the same objects the audit's HOST-1
probes dry-run as each role: _admission.hostnames.hostname_attacks), and must be refused by the policy
(or, for CertificateRequests, by RBAC); a legitimate leaf for an own host is still issued by the
real cert-manager and is no CA; foreign names never reach Route53; the audit names HOST-1 when
the policy or its binding goes and passes again once onboarding restores them.

Run: PLATYKUS_LAB_CONTROLLERS=aws,cert-manager,external-dns PLATYKUS_TEST_LAB=<name> PLATYKUS_KEEP_LAB=1 \
     .venv/bin/python -m pytest -q -p no:cacheprovider tests/integration/test_lab_cert_policy.py
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from cryptography import x509
from test_lab_dns_volumes import platform_zone, records, route53, zone_id  # noqa: F401  (fixtures)
from test_lab_tls_secrets import issued, platform_ca, ready, tenants_onboarded, wait_for  # noqa: F401  (fixtures)

from ansible_collections.platykus.platform.plugins.module_utils._admission.hostnames import (
    CERTIFICATE_CHECKED_FIELDS,
    CERTIFICATE_FORBIDDEN_FIELDS,
    CERTIFICATE_FREE_FIELDS,
    EXTERNAL_DNS_ANNOTATION,
    INTERNAL_HOSTNAME_ANNOTATION,
    TARGET_ANNOTATION,
    hostname_attacks,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import AUDIT_LABEL
from ansible_collections.platykus.platform.plugins.module_utils._core.names import HOSTNAME_POLICY_NAME as POLICY

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("tenants_onboarded")]

ZONE = "apps.platykus-lab.test"
OWN = "acme.%s" % ZONE
NAMESPACE = "acme-prod"
DEVELOPER = ("--as=someone@acme.example", "--as-group=acme-devs")
REFUSED_BY_POLICY = "ValidatingAdmissionPolicy '%s'" % POLICY
TEST_LABEL = "platykus.io/cert-policy-test"
ATTACKS = hostname_attacks(NAMESPACE, [OWN])
GATEWAY_KINDS = {"Gateway", "HTTPRoute", "GRPCRoute", "TLSRoute", "ListenerSet"}
FAIL_ROW = re.compile(r"FAIL\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)")


def as_developer(lab, *args: str, obj: dict | None = None) -> subprocess.CompletedProcess:
    return lab.kubectl(*args, *DEVELOPER, input=yaml.safe_dump(obj) if obj else None, check=False)


def create(lab, obj: dict, *args: str, developer: bool = True) -> subprocess.CompletedProcess:
    who = DEVELOPER if developer else ()
    return lab.kubectl("create", "-f", "-", *who, *args, input=yaml.safe_dump(obj), check=False)


def served(lab, kind: str) -> bool:
    return lab.kubectl("api-resources", "-o", "name", check=False).stdout.count("%ss." % kind.lower()) > 0


def labelled(obj: dict) -> dict:
    obj = yaml.safe_load(yaml.safe_dump(obj))
    obj["metadata"]["labels"][TEST_LABEL] = "true"
    return obj


@pytest.fixture(autouse=True)
def cleanup(lab):
    yield
    for kind in ("ingresses", "services", "pods", "certificates"):
        lab.kubectl("delete", kind, "-n", NAMESPACE, "-l", TEST_LABEL, "--wait=false", check=False)


# -- the CRD as served -----------------------------------------------------------------------------
def test_every_field_of_the_served_certificate_crd_is_decided(lab):
    """A cert-manager upgrade that adds a spec field fails here until the policy decides it."""
    crd = lab.get_json("crd", "certificates.cert-manager.io")
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    fields = set(version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"])
    decided = set(CERTIFICATE_CHECKED_FIELDS) | set(CERTIFICATE_FORBIDDEN_FIELDS) | set(CERTIFICATE_FREE_FIELDS)
    assert fields == decided, "undecided: %s; gone: %s" % (sorted(fields - decided), sorted(decided - fields))
    usages = set(version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["usages"]["items"]["enum"])
    assert {"cert sign", "crl sign", "any", "ocsp signing"} <= usages


# -- every attack, as the tenant -------------------------------------------------------------------
@pytest.mark.parametrize(
    "what,obj", [a for a in ATTACKS if a[1]["kind"] not in GATEWAY_KINDS], ids=lambda v: v if isinstance(v, str) else ""
)
def test_the_attack_is_refused_as_the_tenant_developer(lab, what, obj):
    refused = create(lab, labelled(obj))
    assert refused.returncode != 0, "%s was admitted: %s" % (what, refused.stdout)
    if obj["kind"] == "CertificateRequest":
        # CEL cannot decode a CSR: tenants may not create CertificateRequests at all (only cert-manager does)
        assert "cannot create resource" in refused.stderr, refused.stderr
    else:
        assert REFUSED_BY_POLICY in refused.stderr, refused.stderr
    stored = lab.get_json(obj["kind"].lower(), "-n", NAMESPACE, "-l", TEST_LABEL)["items"]
    assert stored == [], "%s left %s" % (what, stored)


def test_tenant_roles_cannot_create_certificate_requests(lab):
    for group in ("acme-admins", "acme-devs", "acme-auditors"):
        can = lab.kubectl(
            "auth", "can-i", "create", "certificaterequests.cert-manager.io", "-n", NAMESPACE,
            "--as=someone@acme.example", "--as-group=%s" % group, check=False,
        )  # fmt: skip
        assert can.stdout.strip() == "no", group
        can = lab.kubectl(
            "auth", "can-i", "create", "certificates.cert-manager.io", "-n", NAMESPACE,
            "--as=someone@acme.example", "--as-group=%s" % group, check=False,
        )  # fmt: skip
        assert can.stdout.strip() == ("no" if group == "acme-auditors" else "yes"), group


def test_the_policy_applies_to_the_platforms_identity_too(lab):
    """ingress-shim creates Certificates as cert-manager: the binding exempts nobody."""
    isca = next(obj for what, obj in ATTACKS if what == "Certificate isCA")
    refused = create(lab, labelled(isca), developer=False)
    assert refused.returncode != 0 and REFUSED_BY_POLICY in refused.stderr, refused.stderr


def _service(name: str, **annotations: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {TEST_LABEL: "true"}, "annotations": annotations},
        "spec": {"type": "ClusterIP", "selector": {"app": name}, "ports": [{"port": 80}]},
    }


LEGITIMATE = [
    (
        "own hostname with an IP target",
        _service("ok1", **{EXTERNAL_DNS_ANNOTATION: "web." + OWN, TARGET_ANNOTATION: "192.0.2.7"}),
    ),
    (
        "own hostnames as external-dns splits them",
        _service("ok2", **{EXTERNAL_DNS_ANNOTATION: "a.%s, b.%s" % (OWN, OWN)}),
    ),
    (
        "own internal hostname, own host as target",
        _service("ok3", **{INTERNAL_HOSTNAME_ANNOTATION: "db." + OWN, TARGET_ANNOTATION: "lb." + OWN}),
    ),
    ("own wildcard hostname", _service("ok4", **{EXTERNAL_DNS_ANNOTATION: "*." + OWN})),
    ("an IPv6 target", _service("ok5", **{EXTERNAL_DNS_ANNOTATION: "v6." + OWN, TARGET_ANNOTATION: "2001:db8::1"})),
]


@pytest.mark.parametrize("what,obj", LEGITIMATE, ids=[w for w, _o in LEGITIMATE])
def test_legitimate_names_are_admitted(lab, what, obj):
    # the control: without it, a policy refusing everything would pass every test above
    admitted = create(lab, obj, "--dry-run=server")
    assert admitted.returncode == 0, admitted.stderr


def test_legitimate_certificate_shapes_are_admitted(lab):
    base = next(obj for what, obj in ATTACKS if what == "Certificate isCA")
    for spec in (
        {"dnsNames": ["*." + OWN, OWN], "commonName": OWN},
        {"dnsNames": ["api." + OWN], "usages": ["digital signature", "key encipherment", "server auth", "client auth"]},
        {"dnsNames": ["api." + OWN], "isCA": False},
    ):
        cert = yaml.safe_load(yaml.safe_dump(base))
        cert["spec"] = {k: v for k, v in cert["spec"].items() if k != "isCA"} | spec
        admitted = create(lab, cert, "--dry-run=server")
        assert admitted.returncode == 0, (spec, admitted.stderr)


# -- the real cert-manager -------------------------------------------------------------------------
def test_a_leaf_for_an_own_host_is_still_issued_and_is_no_ca(lab, platform_ca):  # noqa: F811
    cert = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "leaf", "namespace": NAMESPACE, "labels": {TEST_LABEL: "true"}},
        "spec": {
            "secretName": "leaf-tls",
            "dnsNames": ["leaf." + OWN],
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "platykus-default"},
        },
    }
    made = create(lab, cert)
    assert made.returncode == 0, made.stderr
    try:
        wait_for("Certificate leaf Ready", lambda: ready(lab.get_json("certificate", "leaf", "-n", NAMESPACE)))
        leaf = issued(lab, NAMESPACE, "leaf-tls")
        leaf.verify_directly_issued_by(platform_ca)
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        assert not usage.key_cert_sign and not usage.crl_sign
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert list(sans) == [x509.DNSName("leaf." + OWN)]
    finally:
        lab.kubectl("delete", "secret", "leaf-tls", "-n", NAMESPACE, "--ignore-not-found")


# -- Route53 ---------------------------------------------------------------------------------------
# (upper case only in the host: external-dns's domain filter compares the zone case-sensitively)
FOREIGN = ["login.globex.%s" % ZONE, "www.%s" % ZONE, "LOGIN.GLOBEX.%s" % ZONE, "login.globex.%s." % ZONE]


def test_foreign_names_never_reach_route53(lab, route53, platform_zone):  # noqa: F811
    tries = [
        _service("steal-internal", **{INTERNAL_HOSTNAME_ANNOTATION: FOREIGN[0], TARGET_ANNOTATION: "203.0.113.9"}),
        _service("steal-apex", **{INTERNAL_HOSTNAME_ANNOTATION: FOREIGN[1]}),
        _service("steal-case", **{EXTERNAL_DNS_ANNOTATION: FOREIGN[2]}),
        _service("steal-dot", **{EXTERNAL_DNS_ANNOTATION: FOREIGN[3]}),
        _service("steal-target", **{EXTERNAL_DNS_ANNOTATION: "alias." + OWN, TARGET_ANNOTATION: FOREIGN[0]}),
    ]
    for obj in tries:
        refused = create(lab, obj)
        assert refused.returncode != 0 and REFUSED_BY_POLICY in refused.stderr, (
            obj["metadata"]["name"],
            refused.stderr,
        )
    # The control: acme's own name, made in the same breath, reaches Route53; external-dns has synced since.
    marker = "marker." + OWN
    assert (
        create(lab, _service("marker", **{EXTERNAL_DNS_ANNOTATION: marker, TARGET_ANNOTATION: "192.0.2.8"})).returncode
        == 0
    )
    found = wait_for(
        "the A record of %s" % marker, lambda: (r := records(route53, platform_zone)).get((marker, "A")) and r
    )
    assert found[(marker, "A")] == ["192.0.2.8"]
    names = {name.lower() for name, _type in found}
    for foreign in FOREIGN:
        bare = foreign.lower().rstrip(".")
        assert not {bare, "a-" + bare, "cname-" + bare} & names, foreign
    lab.kubectl("delete", "service", "marker", "-n", NAMESPACE)


def test_without_the_binding_the_case_trick_reaches_route53(lab, route53, platform_zone):  # noqa: F811
    """The control of the test above: the attack is real, and only admission keeps it out. external-dns
    writes the upper-case name (Route53 answers it for login.globex…) and does not even remove it with
    its Service (its registry compares names in another case)."""
    foreign = FOREIGN[2]
    lab.kubectl("delete", "validatingadmissionpolicybinding", POLICY)
    try:
        wait_for(
            "admission to admit",
            lambda: (
                create(lab, _service("probe"), "--dry-run=server").returncode == 0
                and create(lab, _service("probe", **{EXTERNAL_DNS_ANNOTATION: foreign}), "--dry-run=server").returncode
                == 0
            ),
        )
        assert create(lab, _service("steal-case", **{INTERNAL_HOSTNAME_ANNOTATION: foreign})).returncode == 0
        wait_for(
            "the record of %s" % foreign,
            lambda: foreign.lower() in {n.lower() for n, _t in records(route53, platform_zone)},
        )
    finally:
        lab.kubectl("delete", "service", "steal-case", "-n", NAMESPACE, "--ignore-not-found")
        restored = lab.playbook("playbooks/tenant-onboarding.yml", extra_vars={"tenant": "acme"})
        assert restored.ok, restored.output
        pages = route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=platform_zone)
        stuck = [r for page in pages for r in page["ResourceRecordSets"] if "globex" in r["Name"].lower()]
        if stuck:
            route53.change_resource_record_sets(
                HostedZoneId=platform_zone,
                ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": r} for r in stuck]},
            )


# -- Gateway API: matched before its CRDs exist, refused once they do -------------------------------
def gateway_crds() -> list[Path]:
    """The Gateway API CRDs of the sigs.k8s.io/gateway-api module cert-manager's lab build pins."""
    gomod = (ROOT / "lab/controllers/cert-manager/go.mod").read_text()
    version = re.search(r"sigs\.k8s\.io/gateway-api (v\S+)", gomod).group(1)
    cache = Path(os.environ.get("GOMODCACHE") or Path.home() / "go/pkg/mod")
    base = cache / ("sigs.k8s.io/gateway-api@%s/config/crd/experimental" % version)
    wanted = ("gateways", "httproutes", "grpcroutes", "tlsroutes", "listenersets")
    return [base / ("gateway.networking.k8s.io_%s.yaml" % name) for name in wanted]


def test_gateway_routes_and_listeners_are_held_to_the_domains(lab):
    crds = gateway_crds()
    missing = [str(p) for p in crds if not p.exists()]
    if missing:
        pytest.skip(
            "the gateway-api module is not in the Go module cache (cert-manager's lab build fetches it): %s" % missing
        )
    # The policy was installed by onboarding while these kinds were not served: the API server took it.
    assert lab.get_json("validatingadmissionpolicy", POLICY)["metadata"]["name"] == POLICY
    ours = not served(lab, "httproute")
    for crd in crds:
        lab.kubectl("apply", "--server-side", "-f", str(crd))
    try:
        lab.kubectl("wait", "--for=condition=Established", "crd/httproutes.gateway.networking.k8s.io", "--timeout=60s")
        attacks = [(what, obj) for what, obj in ATTACKS if obj["kind"] in GATEWAY_KINDS]
        assert {obj["kind"] for _w, obj in attacks} == GATEWAY_KINDS
        deadline = time.monotonic() + 30
        for what, obj in attacks:
            # tenant roles get no write on Gateway API kinds yet: as the lab's admin, whom the binding does not exempt
            while True:
                refused = create(lab, labelled(obj), developer=False)
                if refused.returncode != 0 or time.monotonic() > deadline:
                    break
                lab.kubectl("delete", obj["kind"].lower(), "-n", NAMESPACE, "-l", TEST_LABEL, check=False)
                time.sleep(1)  # the policy's matcher learns new kinds through discovery
            assert refused.returncode != 0 and REFUSED_BY_POLICY in refused.stderr, (what, refused.stderr)
        route = next(obj for what, obj in attacks if obj["kind"] == "HTTPRoute")
        route = yaml.safe_load(yaml.safe_dump(route))
        route["spec"]["hostnames"] = ["shop." + OWN]
        admitted = create(lab, route, "--dry-run=server", developer=False)
        assert admitted.returncode == 0, admitted.stderr
    finally:
        if ours:
            for crd in crds:
                lab.kubectl("delete", "-f", str(crd), "--ignore-not-found", "--wait=false", check=False)


# -- the audit -------------------------------------------------------------------------------------
def audit(lab):
    return lab.playbook("playbooks/verify-tenants.yml", extra_vars={"tenant": "acme"})


def wait_for_admission(lab, refused: bool, timeout: float = 30) -> None:
    probe = next(obj for what, obj in ATTACKS if what == "Service hostname")
    deadline = time.monotonic() + timeout
    while (create(lab, probe, "--dry-run=server").returncode != 0) != refused:
        assert time.monotonic() < deadline, "admission did not change within %ss" % timeout
        time.sleep(1)


def test_the_audit_passes_with_the_policy_in_place(lab):
    run = audit(lab)
    assert run.ok, run.output
    for row in ("PASS HOST-1 acme - *", "PASS HOST-1 acme developer acme-dev", "PASS HOST-1 acme viewer acme-prod"):
        assert re.search(r"\s+".join(map(re.escape, row.split())), run.output), row
    assert lab.get_json("certificates,services,ingresses,pods", "-A", "-l", AUDIT_LABEL)["items"] == []


@pytest.mark.parametrize("kind", ["validatingadmissionpolicybinding", "validatingadmissionpolicy"])
def test_removing_the_policy_or_its_binding_fails_the_audit_naming_host_1(lab, kind):
    lab.kubectl("delete", kind, POLICY)
    try:
        wait_for_admission(lab, refused=False)
        run = audit(lab)
        assert run.returncode != 0, run.output
        failed = set(FAIL_ROW.findall(run.output))
        assert ("HOST-1", "acme", "-", "*") in failed, run.output
        # the attacks were admitted (dry runs) as the roles that may write
        assert {
            ("HOST-1", "acme", role, ns) for role in ("admin", "developer") for ns in ("acme-dev", "acme-prod")
        } <= failed
        assert ("HOST-1", "acme", "viewer", "acme-dev") not in failed  # RBAC still refuses the viewer
        assert not [row for row in failed if row[0] != "HOST-1"], failed
    finally:
        restored = lab.playbook("playbooks/tenant-onboarding.yml", extra_vars={"tenant": "acme"})
        assert restored.ok and restored.changed >= 1, restored.output
    wait_for_admission(lab, refused=True)
    assert audit(lab).ok
