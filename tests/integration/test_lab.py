"""What must hold on the lab: the real API server's authorization, admission and controllers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import LAB_INVENTORY, ROOT

from platykus_lab import aws as lab_aws
from platykus_lab import controllers as lab_controllers
from platykus_lab.cluster import COMPONENTS, Lab
from platykus_lab.config import node_pools_from_inventory

pytestmark = pytest.mark.lab


def _wait(check, timeout=60.0, interval=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def namespace(lab):
    name = f"t-{uuid.uuid4().hex[:8]}"
    lab.kubectl("create", "namespace", name)
    yield name
    lab.kubectl("delete", "namespace", name, "--wait=false", check=False)


def platykus_lab(*args: str) -> subprocess.CompletedProcess:
    """The lab command as users run it (bin/platykus-lab), not the Python API."""
    return subprocess.run([str(ROOT / "bin" / "platykus-lab"), *args], capture_output=True, text=True, timeout=600)


def lab_command(lab, command: str, *args: str) -> subprocess.CompletedProcess:
    # --name/--home after the subcommand: the spelling `platykus-lab down --name X` used to reject.
    return platykus_lab(command, *args, "--name", lab.lab.name, "--home", str(lab.lab.home))


def _exited(pid: int) -> bool:
    """Every thread of the process is gone (its sockets closed): a killed Go server's main thread
    is a zombie while its other threads still hold the listening socket for a moment."""
    try:
        return (
            len(os.listdir(f"/proc/{pid}/task")) <= 1
            and "Z" in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        )
    except OSError:
        return True


def kill(lab, component: str) -> int:
    pid = lab.lab.pid(component)
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: lab.lab.pid(component) is None and _exited(pid), timeout=15, what=f"{component} to die")
    return pid


def assert_controllers_work(lab) -> None:
    """What a lab that only looks ready fails: a new pod is scheduled and run, a namespace goes away."""
    name = f"heal-{uuid.uuid4().hex[:6]}"
    lab.kubectl("create", "namespace", name)
    lab.kubectl("create", "deployment", "web", "--image=registry.invalid/web:1", "-n", name)

    def running():
        pods = lab.get_json("pods", "-n", name, "-l", "app=web")["items"]
        return [p for p in pods if p["status"].get("phase") == "Running" and p["spec"].get("nodeName")]

    _wait(running, timeout=90, what=f"a Running pod of deployment web in {name}")
    lab.kubectl("delete", "namespace", name, "--timeout=90s")
    assert lab.kubectl("get", "namespace", name, check=False).returncode != 0


def _pod(name, **spec_overrides):
    container = {
        "name": "app",
        "image": "registry.invalid/app:1",
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
    }
    container.update(spec_overrides.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], **spec_overrides},
    }


def test_simulated_nodes_are_ready_with_inventory_labels(lab):
    # The inventory's five kwok nodes; the real node (test_lab_real_node.py) is not simulated.
    nodes = lab.get_json("nodes", "-l", "type=kwok")["items"]
    assert len(nodes) == 5
    for node in nodes:
        assert Lab.node_ready(node), node["metadata"]["name"]
    by_type = {}
    for node in nodes:
        labels = node["metadata"]["labels"]
        by_type.setdefault(labels["node.kubernetes.io/instance-type"], set()).add(labels["karpenter.sh/capacity-type"])
    assert by_type == {"m5.xlarge": {"on-demand"}, "m5.2xlarge": {"spot"}}


def test_unprivileged_user_is_denied_by_rbac(lab, namespace):
    denied = lab.kubectl("auth", "can-i", "list", "secrets", "-n", namespace, "--as=alice", check=False)
    assert denied.returncode == 1 and denied.stdout.strip() == "no"
    allowed = lab.kubectl("auth", "can-i", "list", "secrets", "-n", namespace, check=False)
    assert allowed.stdout.strip() == "yes"


def test_node_authorizer_limits_nodes(lab):
    as_node = ["--as=system:node:general-0", "--as-group=system:nodes"]
    assert lab.kubectl("auth", "can-i", "get", "nodes/general-0", *as_node, check=False).stdout.strip() == "yes"
    # Node,RBAC: a kubelet reads its own Node object only.
    assert lab.kubectl("auth", "can-i", "get", "nodes/general-1", *as_node, check=False).stdout.strip().startswith("no")
    assert lab.kubectl("auth", "can-i", "list", "secrets", "-A", *as_node, check=False).stdout.strip().startswith("no")


def test_resource_quota_rejects_pod_over_quota(lab, namespace):
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "q", "namespace": namespace},
            "spec": {"hard": {"pods": "1", "requests.cpu": "150m"}},
        }
    )
    # The controller manager fills in quota usage: admission only counts once status exists.
    _wait(
        lambda: lab.get_json("resourcequota", "q", "-n", namespace).get("status", {}).get("hard"), what="quota status"
    )
    lab.apply(_pod("first"), "-n", namespace)
    rejected = lab.apply(_pod("second"), "-n", namespace, check=False)
    assert rejected.returncode != 0
    assert "exceeded quota" in rejected.stderr
    used = _wait(
        lambda: lab.get_json("resourcequota", "q", "-n", namespace)["status"].get("used", {}).get("pods") == "1",
        what="quota usage",
    )
    assert used


def test_limit_ranger_fills_in_defaults(lab, namespace):
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "l", "namespace": namespace},
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "300m", "memory": "128Mi"},
                        "defaultRequest": {"cpu": "200m", "memory": "96Mi"},
                    }
                ]
            },
        }
    )
    pod = _pod("bare", container={"resources": {}})
    lab.apply(pod, "-n", namespace)
    resources = lab.get_json("pod", "bare", "-n", namespace)["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "300m", "memory": "128Mi"}, "requests": {"cpu": "200m", "memory": "96Mi"}}


def test_pod_security_rejects_privileged_pod(lab, namespace):
    lab.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    privileged = _pod("priv", container={"securityContext": {"privileged": True}})
    rejected = lab.apply(privileged, "-n", namespace, check=False)
    assert rejected.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in rejected.stderr
    restricted_ok = _pod(
        "ok",
        container={
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "runAsNonRoot": True,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            }
        },
    )
    lab.apply(restricted_ok, "-n", namespace)


def test_deployment_pods_run_on_simulated_nodes(lab, namespace):
    lab.kubectl("create", "deployment", "web", "--image=registry.invalid/web:1", "--replicas=4", "-n", namespace)

    def running():
        pods = lab.get_json("pods", "-n", namespace, "-l", "app=web")["items"]
        ok = [p for p in pods if p["status"].get("phase") == "Running" and p["spec"].get("nodeName")]
        return ok if len(ok) == 4 else None

    pods = _wait(running, what="4 Running pods")
    nodes = {n["metadata"]["name"] for n in lab.get_json("nodes")["items"]}
    assert {p["spec"]["nodeName"] for p in pods} <= nodes
    owners = {p["metadata"]["ownerReferences"][0]["kind"] for p in pods}
    assert owners == {"ReplicaSet"}
    deployment = _wait(
        lambda: (
            (d := lab.get_json("deployment", "web", "-n", namespace)).get("status", {}).get("readyReplicas") == 4 and d
        ),
        what="deployment ready",
    )
    assert deployment["status"]["availableReplicas"] == 4


def test_service_account_tokens_authenticate(lab, namespace):
    lab.kubectl("create", "serviceaccount", "robot", "-n", namespace)
    token = lab.kubectl("create", "token", "robot", "-n", namespace, "--duration=10m").stdout.strip()
    server = lab.lab.status()["server"]
    whoami = lab.kubectl(
        "auth",
        "whoami",
        "-o",
        "json",
        "--kubeconfig=/dev/null",
        f"--server={server}",
        f"--certificate-authority={lab.lab.pki_dir / 'ca.crt'}",
        f"--token={token}",
    )
    user = json.loads(whoami.stdout)["status"]["userInfo"]
    assert user["username"] == f"system:serviceaccount:{namespace}:robot"
    bogus = lab.kubectl(
        "get",
        "pods",
        "--kubeconfig=/dev/null",
        f"--server={server}",
        f"--certificate-authority={lab.lab.pki_dir / 'ca.crt'}",
        "--token=not-a-token",
        check=False,
    )
    assert bogus.returncode != 0 and "Unauthorized" in bogus.stderr


def test_namespace_deletion_completes(lab):
    name = f"gone-{uuid.uuid4().hex[:6]}"
    lab.kubectl("create", "namespace", name)
    lab.kubectl("create", "configmap", "c", "-n", name, "--from-literal=a=b")
    lab.kubectl("create", "deployment", "d", "--image=registry.invalid/x:1", "-n", name)
    lab.kubectl("delete", "namespace", name, "--timeout=90s")
    assert lab.kubectl("get", "namespace", name, check=False).returncode != 0


def test_up_is_idempotent(lab):
    before = {c: lab.lab.pid(c) for c in COMPONENTS}
    again = lab.lab.up(node_pools_from_inventory(LAB_INVENTORY), log=lambda _m: None)
    assert {c: lab.lab.pid(c) for c in COMPONENTS} == before
    assert again["kubeconfig"] == str(lab.kubeconfig)


def test_up_after_the_api_server_is_killed_restarts_its_clients_on_the_new_endpoint(lab):
    clients = ("kube-controller-manager", "kube-scheduler", "kwok")
    before = {c: lab.lab.pid(c) for c in clients}
    old_port = lab.lab.state()["ports"]["apiserver"]
    kill(lab, "kube-apiserver")
    # Hold the old port so `up` must move the API server: the case that left the controller-manager,
    # scheduler and kwok dialling a port nothing served, while `up` and `status` said ready.
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", old_port))
        holder.listen()
        broken = lab_command(lab, "status", "--json")
        assert broken.returncode == 3, broken.stdout
        assert "kube-apiserver: not running" in json.loads(broken.stdout)["problems"]
        repaired = lab_command(lab, "up", "--inventory", str(LAB_INVENTORY))
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    state = lab.lab.state()
    server = f"https://127.0.0.1:{state['ports']['apiserver']}"
    assert state["ports"]["apiserver"] != old_port
    for client in clients:
        assert lab.lab.pid(client) not in (None, before[client]), f"{client} was not restarted"
        assert state["started"][client] == {"pid": lab.lab.pid(client), "upstream": server}
    status = json.loads(lab_command(lab, "status", "--json").stdout)
    assert status["ready"] and status["server"] == server, status["problems"]
    assert_controllers_work(lab)


def test_status_reports_a_dead_controller_manager_and_up_restarts_only_it(lab):
    others = {c: lab.lab.pid(c) for c in COMPONENTS if c != "kube-controller-manager"}
    kill(lab, "kube-controller-manager")
    broken = lab_command(lab, "status", "--json")
    assert broken.returncode == 3
    report = json.loads(broken.stdout)
    assert report["ready"] is False
    manager = report["components"]["kube-controller-manager"]
    assert (manager["pid"], manager["healthy"], manager["problem"]) == (None, False, "not running")
    # Only the dead process: the rest of the control plane is reported healthy.
    assert [c for c, info in report["components"].items() if not info["healthy"]] == ["kube-controller-manager"]
    repaired = lab_command(lab, "up", "--inventory", str(LAB_INVENTORY))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert lab_command(lab, "status").returncode == 0
    assert lab.lab.pid("kube-controller-manager")
    assert {c: lab.lab.pid(c) for c in others} == others
    assert_controllers_work(lab)


def test_status_reports_a_client_started_against_another_endpoint(lab):
    # What a client left dialling the API server's old port looks like in the lab's records.
    state = lab.lab.state()
    pid = state["started"]["kube-scheduler"]["pid"]
    state["started"]["kube-scheduler"]["upstream"] = "https://127.0.0.1:1"
    lab.lab.state_file.write_text(json.dumps(state))
    broken = lab_command(lab, "status")
    assert broken.returncode == 3
    assert "UNHEALTHY: dials https://127.0.0.1:1, but the current endpoint is https://127.0.0.1:" in broken.stdout
    repaired = lab_command(lab, "up", "--inventory", str(LAB_INVENTORY))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert lab.lab.pid("kube-scheduler") not in (None, pid)
    assert lab_command(lab, "status").returncode == 0


def test_two_labs_side_by_side_and_clean_stop(lab):
    # Its own folder, not pytest's tmp_path: pytest prunes old tmp folders of concurrent sessions.
    scratch = Path(tempfile.mkdtemp(prefix="platykus-side-"))
    home, inventory = scratch / "lab", scratch / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    pools = [
        {
            "name": "tiny",
            "count": 1,
            "instance_type": "t3.medium",
            "zones": ["us-east-1a"],
            "capacity": {"cpu": "2", "memory": "4Gi"},
        }
    ]
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump({"platykus_lab_node_pools": pools}))
    side = ("--name", "side", "--home", str(home))
    other = Lab.named("side", binaries=lab.lab.binaries, home=home)
    try:
        started = platykus_lab("up", "--inventory", str(inventory), *side)
        assert started.returncode == 0, started.stdout + started.stderr
        status = json.loads(platykus_lab("status", "--json", *side).stdout)
        # Its own real node too, beside the session lab's: both labs' real-0 run side by side.
        assert status["ready"] and status["nodes"] == {"tiny-0": "Ready", "real-0": "Ready"}, status["problems"]
        assert f"export KUBECONFIG={home / 'kubeconfig'}" in platykus_lab("env", *side).stdout
        assert set(other.state()["ports"].values()).isdisjoint(lab.lab.state()["ports"].values())
        pids = [other.pid(c) for c in COMPONENTS]
        assert all(pids)
    finally:
        stopped = platykus_lab("down", "--purge", *side)
        shutil.rmtree(scratch, ignore_errors=True)
    # The platform controllers first (lab/controllers.yml, newest first), then the control plane.
    assert (
        stopped.returncode == 0
        and "kwok, kube-scheduler, kube-controller-manager, kube-apiserver, etcd" in stopped.stdout
    )
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z"
    assert all(other.pid(c) is None for c in COMPONENTS)
    assert lab.lab.readyz()


# -- the lab's AWS keeps its state across `up` ---------------------------------------------------
def _aws_state(admin: dict) -> dict:
    """What onboarding made in the lab's AWS: the tenants' IAM users with their keys, the buckets."""
    import boto3

    iam, s3 = boto3.client("iam", **admin), boto3.client("s3", **admin)
    users = [u["UserName"] for u in iam.list_users()["Users"] if "-tenant-" in u["UserName"]]
    return {
        "users": {
            user: sorted(k["AccessKeyId"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"])
            for user in users
        },
        "buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"]),
    }


@pytest.fixture(scope="module")
def tenants_in_aws(lab):
    """The inventory's tenants onboarded, with their AWS slice (IAM user, key, bucket) in the lab's AWS."""
    run = lab.playbook("playbooks/tenant-onboarding.yml")
    assert run.ok, run.output[-3000:]
    exports = lab_aws.env_exports(lab.lab)
    state = _aws_state(lab_aws.client_kwargs(lab.lab))
    assert len(state["users"]) >= 3 and all(state["users"].values()), state
    return exports, state


def _assert_aws_kept(lab, exports: dict, state: dict) -> None:
    # The keys a shell read from `env` before still work, and reach the same tenants' users and buckets.
    assert lab_aws.env_exports(lab.lab) == exports
    admin = {
        "endpoint_url": exports["AWS_ENDPOINT_URL"],
        "region_name": exports["AWS_REGION"],
        "aws_access_key_id": exports["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": exports["AWS_SECRET_ACCESS_KEY"],
    }
    assert _aws_state(admin) == state
    again = lab.playbook("playbooks/tenant-onboarding.yml")
    assert again.ok and again.changed == 0, again.output[-3000:]


def test_up_after_the_api_server_is_killed_keeps_the_aws_running_with_every_tenant(lab, tenants_in_aws):
    exports, state = tenants_in_aws
    aws_pid = lab_controllers.pid(lab.lab, "aws")
    kill(lab, "kube-apiserver")
    repaired = lab_command(lab, "up", "--inventory", str(LAB_INVENTORY))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "restarting aws" not in repaired.stdout
    assert lab_controllers.pid(lab.lab, "aws") == aws_pid
    _assert_aws_kept(lab, exports, state)


def test_a_crashed_aws_comes_back_with_every_tenant_and_the_same_admin_key(lab, tenants_in_aws):
    exports, state = tenants_in_aws
    time.sleep(lab_aws.SNAPSHOT_DELAY + 1.5)  # the snapshot after the last change onboarding made
    aws_pid = lab_controllers.pid(lab.lab, "aws")
    os.kill(aws_pid, signal.SIGKILL)
    _wait(lambda: lab_controllers.pid(lab.lab, "aws") is None and _exited(aws_pid), timeout=15, what="aws to die")
    repaired = lab_command(lab, "up", "--inventory", str(LAB_INVENTORY))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert lab_controllers.pid(lab.lab, "aws") not in (None, aws_pid)
    _assert_aws_kept(lab, exports, state)
