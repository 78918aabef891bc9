"""Regression tests for what broke when main was tried as a hostile tenant, a careless operator
and a flaky network would (issue: hardening). Each asserts on what the API server holds.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import yaml
from conftest import LAB_INVENTORY, run_module
from test_tenant_lifecycle import _load_tenants, tenant_args

pytestmark = pytest.mark.lab

TENANT = "hardy"


def hardy(**extra) -> dict:
    spec = {
        "name": TENANT,
        "owners": {"admin": ["hardy-admins"], "developer": ["hardy-devs"]},
        "environments": ["dev", "prod"],
        "plan": "small",
    }
    spec.update(extra)
    return spec


def onboard(lab, spec: dict, **extra):
    return run_module(lab, "tenant", tenant_args(lab, [spec], tenant=spec["name"], **extra))


def offboard(lab, **extra):
    args = {"state": "absent", "tenant": TENANT, "confirm": TENANT, "force": True, "kubeconfig": str(lab.kubeconfig)}
    args.update(extra)
    return run_module(lab, "tenant", args)


def cluster_state(lab) -> dict[str, str]:
    """Every namespace and namespaced object of the kinds onboarding writes, with resourceVersions."""
    state: dict[str, str] = {}
    items = lab.get_json(
        "namespaces,serviceaccounts,roles,rolebindings,networkpolicies,resourcequotas,limitranges", "-A"
    )
    for item in items["items"]:
        meta = item["metadata"]
        state[f"{item['kind']}/{meta.get('namespace', '')}/{meta['name']}"] = meta["resourceVersion"]
    return state


@pytest.fixture
def clean(lab):
    """No hardy namespaces before and after each test."""
    lab.kubectl(
        "delete", "namespaces", "hardy-dev", "hardy-prod", "--ignore-not-found", "--wait=true", "--timeout=120s"
    )
    yield
    lab.kubectl(
        "delete", "namespaces", "hardy-dev", "hardy-prod", "--ignore-not-found", "--wait=true", "--timeout=120s"
    )


# -- 2 and 6: existing namespaces are adopted only on request; excess RBAC is pruned ---------------


def _legacy_namespace(lab) -> None:
    lab.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "hardy-dev", "labels": {"team": "legacy"}}},
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "before-platykus", "namespace": "hardy-dev"},
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "legacy-admins", "namespace": "hardy-dev"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "old-team"}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "legacy-reader", "namespace": "hardy-dev"},
                "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "legacy-viewers", "namespace": "hardy-dev"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "legacy-reader"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "old-team"}],
            },
        ]
    )


def test_existing_namespace_is_refused_unless_adopted(lab, clean):
    _legacy_namespace(lab)
    before = cluster_state(lab)
    status, result = onboard(lab, hardy())
    assert status == "FAILED"
    assert "namespace 'hardy-dev' already exists and Platykus did not create it; set adopt: true" in result["msg"]
    assert cluster_state(lab) == before


def test_adoption_prunes_excess_rbac_and_offboarding_keeps_the_namespace(lab, clean):
    _legacy_namespace(lab)
    status, result = onboard(lab, hardy(adopt=True))
    assert status == "CHANGED", result
    assert result["adopted"] == {
        "hardy-dev": [
            "Role/hardy-dev/legacy-reader",
            "RoleBinding/hardy-dev/legacy-admins",
            "RoleBinding/hardy-dev/legacy-viewers",
        ]
    }
    assert result["pruned"] == ["RoleBinding/hardy-dev/legacy-admins"]
    bindings = {b["metadata"]["name"] for b in lab.get_json("rolebindings", "-n", "hardy-dev")["items"]}
    assert "legacy-admins" not in bindings and "legacy-viewers" in bindings
    assert lab.get_json("namespace", "hardy-dev")["metadata"]["annotations"]["platykus.io/adopted"] == "true"

    status, result = offboard(lab)
    assert status == "CHANGED", result
    assert result["deleted"] == ["Namespace/hardy-prod"]
    namespace = lab.get_json("namespace", "hardy-dev")["metadata"]
    assert "deletionTimestamp" not in namespace
    assert namespace["labels"].get("team") == "legacy" and "platykus.io/tenant" not in namespace["labels"]
    assert lab.kubectl("get", "configmap", "before-platykus", "-n", "hardy-dev", check=False).returncode == 0
    left = lab.get_json("roles,rolebindings,networkpolicies,resourcequotas,limitranges", "-n", "hardy-dev")["items"]
    assert sorted(f"{i['kind']}/{i['metadata']['name']}" for i in left) == [
        "Role/legacy-reader",
        "RoleBinding/legacy-viewers",
    ]


def test_a_hand_made_admin_binding_is_pruned_on_rerun(lab, clean):
    status, result = onboard(lab, hardy())
    assert status == "CHANGED", result
    lab.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "by-hand", "namespace": "hardy-prod"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "hardy-devs"}],
        }
    )
    status, result = onboard(lab, hardy(), unmanaged_rbac="fail")
    assert status == "FAILED" and "RoleBinding/hardy-prod/by-hand" in result["msg"], result
    status, result = onboard(lab, hardy())
    assert result["pruned"] == ["RoleBinding/hardy-prod/by-hand"], result
    assert lab.kubectl("get", "rolebinding", "by-hand", "-n", "hardy-prod", check=False).returncode != 0
    assert onboard(lab, hardy())[1]["changed"] is False


# -- 3 and 4: bad values never reach the API server; a refused object writes nothing ---------------


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda s: s.update(environments=["dev\n"]), "environments"),
        (lambda s: s.update(name="hardy\n"), ".name"),
        (lambda s: s.update(labels={"team": "x\n"}), "labels.team"),
        (lambda s: s.update(overrides={"memory": "1e99"}), "overrides.memory"),
        (lambda s: s.update(owners={"admin": [" hardy-admins"]}), "owners.admin[0]"),
        (lambda s: s.update(overrides={"services_loadbalancers": 3, "services_nodeports": 1}), "services_nodeports"),
    ],
    ids=["env-newline", "name-newline", "label-newline", "memory-1e99", "group-space", "nodeports"],
)
def test_bad_values_fail_before_anything_is_written(lab, clean, mutate, field):
    spec = hardy()
    mutate(spec)
    before = cluster_state(lab)
    status, result = run_module(lab, "tenant", tenant_args(lab, [spec]))
    assert status == "FAILED" and field in result["msg"], result["msg"]
    assert "Traceback" not in result["msg"]
    assert cluster_state(lab) == before


@pytest.mark.parametrize("tenants", [[["not", "a", "mapping"]], ["acme"], [None]])
def test_a_spec_that_is_not_a_mapping_is_named(lab, tenants):
    status, result = run_module(lab, "tenant", tenant_args(lab, tenants))
    assert status == "FAILED" and "tenants[0]" in result["msg"] and "not a mapping" in result["msg"], result


def test_an_object_the_api_server_refuses_leaves_nothing_behind(lab, clean):
    # A cluster policy (as Kyverno or Gatekeeper would add) refuses the tenant's quota object.
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "test-refuse-hardy-quota"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["resourcequotas"],
                    }
                ]
            },
            "validations": [{"expression": "!object.metadata.labels.exists(k, object.metadata.labels[k] == 'hardy')"}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "test-refuse-hardy-quota"},
        "spec": {"policyName": "test-refuse-hardy-quota", "validationActions": ["Deny"]},
    }
    lab.apply([policy, binding])
    try:
        _wait_until_refused(
            lab,
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": {"name": "probe", "namespace": "default", "labels": {"t": "hardy"}},
            },
        )
        before = cluster_state(lab)
        status, result = onboard(lab, hardy())
        assert status == "FAILED", result
        assert "nothing was written" in result["msg"] and "ResourceQuota" in result["msg"], result["msg"]
        assert cluster_state(lab) == before
    finally:
        lab.kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", "test-refuse-hardy-quota")


def _wait_until_refused(lab, probe: dict, timeout: float = 30) -> None:
    """Admission policies take a moment to load: wait until a server-side dry run is refused."""
    deadline = time.monotonic() + timeout
    while (
        lab.kubectl("create", "--dry-run=server", "-f", "-", input=yaml.safe_dump(probe), check=False).returncode == 0
    ):
        assert time.monotonic() < deadline, "the admission policy was not loaded within %ss" % timeout
        time.sleep(1)


# -- 8: a stalled API server gives a bounded, named error -------------------------------------------


def test_a_stalled_api_server_fails_in_bounded_time_naming_the_request(lab, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept_and_stall():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_stall, daemon=True)
    thread.start()
    config = yaml.safe_load(lab.kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:%d" % server.getsockname()[1]
    stalled = tmp_path / "stalled.kubeconfig"
    stalled.write_text(yaml.safe_dump(config))
    try:
        args = tenant_args(lab, _load_tenants(LAB_INVENTORY), request_timeout=1, request_retries=1)
        args["kubeconfig"] = str(stalled)
        status, result = run_module(lab, "tenant", args)
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
    assert status == "FAILED"
    message = result["msg"]
    assert (
        message.startswith("Failed to ")
        and "no answer from the API server after 2 attempt(s) with a 1s timeout" in message
    )
    assert "request_timeout" in message


# -- 10: a plan that grants load balancers admits a plain LoadBalancer Service ----------------------


def test_a_plain_loadbalancer_service_fits_the_plan(lab, clean):
    status, result = onboard(lab, hardy())
    assert status == "CHANGED", result
    quota = lab.get_json("resourcequota", "tenant-quota", "-n", "hardy-dev")
    assert quota["spec"]["hard"]["services.loadbalancers"] == "1" and quota["spec"]["hard"]["services.nodeports"] == "2"
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "hardy-dev"},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
        },
    }
    created = lab.apply(service, check=False)
    assert created.returncode == 0, created.stderr
    assert lab.get_json("service", "web", "-n", "hardy-dev")["spec"]["type"] == "LoadBalancer"


# -- a secret in a tenant spec is never echoed -------------------------------------------------------


def test_an_alert_webhook_url_is_masked_in_the_module_result(lab, clean):
    secret = "sekrit-token-4711"
    spec = hardy(alerts={"webhook_url": f"https://hooks.example.test/hardy?token={secret}"})
    status, result = onboard(lab, spec)
    assert status == "CHANGED", result
    assert secret not in json.dumps(result)
    assert result["tenants"][0]["alerts"]["webhook_url"] == "(set)"
