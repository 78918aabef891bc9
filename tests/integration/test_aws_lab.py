"""The whole aws path end to end: site.yml on the aws inventory provisions the emulator's EKS and
then configures the platform on a real API server (a lab of this module's own). That a rerun of
site.yml on this path changes nothing is molecule/aws's idempotence step (test_molecule_aws.py),
not repeated here.

The emulator runs in this process and is handed over before provisioning (aws_emulator.hand_over):
the EKS cluster it creates names the lab's API server and CA, so the kubeconfig aws_kubeconfig
writes from DescribeCluster reaches the lab. The lab's API server does not accept EKS tokens, so
the kubeconfig's user is the lab admin's client certificate (aws_kubeconfig_user) — the one thing
that differs from a real account, where the collection's token exec is used.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from aws_emulator import emulator, env, hand_over
from conftest import RECAP_RE, ROOT, session_lab_name
from standin_charts import ChartServer, build_repository

from platykus_lab import controller_run
from platykus_lab.cluster import Lab
from platykus_lab.config import bin_dir, node_pools_from_inventory

pytestmark = [
    pytest.mark.lab,
    pytest.mark.aws,
    pytest.mark.slow,
]

INVENTORY = ROOT / "inventories" / "aws"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"


@dataclass
class HandedOver:
    lab: Lab
    env: dict
    extra: dict
    kubeconfig: Path
    admin: dict
    first_run: str

    def playbook(self, playbook: str, **extra) -> tuple[int, int, str]:
        cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(INVENTORY), str(ROOT / playbook)]
        cmd += ["-e", json.dumps({**self.extra, **extra})]
        proc = subprocess.run(cmd, env=self.env, cwd=ROOT, capture_output=True, text=True)
        out = proc.stdout + proc.stderr
        recaps = RECAP_RE.findall(out)
        return (proc.returncode or sum(int(r[4]) for r in recaps)), sum(int(r[2]) for r in recaps), out

    def kubectl_json(self, *args: str) -> dict:
        cmd = [str(self.lab.binaries / "kubectl"), "--kubeconfig", str(self.kubeconfig), "get", "-o", "json", *args]
        return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def _lab_admin(lab: Lab) -> tuple[str, str, dict]:
    """The lab's server, its CA (base64 PEM) and the admin's kubeconfig user entry."""
    config = yaml.safe_load(Path(lab.kubeconfig_path).read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    ca = base64.b64encode(Path(cluster["certificate-authority"]).read_bytes()).decode()
    return cluster["server"], ca, user


@pytest.fixture(scope="module")
def handed_over(tmp_path_factory):
    binaries = bin_dir()
    lab = Lab.named(session_lab_name("-aws"), binaries=binaries)
    # Only the control plane and nodes: on the aws provider the platform's services are releases of
    # their own (stand-in charts here), not the lab's controllers.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(controller_run, "up", lambda *args, **kwargs: [])
        lab.up(node_pools_from_inventory(ROOT / "inventories/lab"), log=lambda m: print(m, file=sys.stderr))
    tmp = tmp_path_factory.mktemp("aws-lab")
    try:
        server, ca, admin = _lab_admin(lab)
        repo = build_repository(tmp / "charts", helm=str(binaries / "helm"))
        with ChartServer(repo) as mirror, emulator() as url:
            hand_over(server, ca)
            state = HandedOver(
                lab=lab,
                env=dict(os.environ, **env(url), PATH=f"{binaries}:{ROOT / '.venv/bin'}:{os.environ['PATH']}",
                         ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"),
                extra={"platykus_aws_account_id": "123456789012", "platykus_kubeconfig": str(tmp / "kubeconfig"),
                       "aws_kubeconfig_user": admin, "platykus_chart_mirror": mirror.url},
                kubeconfig=tmp / "kubeconfig",
                admin=admin,
                first_run="",
            )  # fmt: skip
            rc, _changed, out = state.playbook("site.yml")
            assert rc == 0, out[-6000:]
            state.first_run = out
            yield state
    finally:
        if os.environ.get("PLATYKUS_KEEP_LAB") != "1":
            lab.down(purge=True, log=lambda m: print(m, file=sys.stderr))


def test_kubeconfig_from_describe_cluster_reaches_the_lab(handed_over):
    config = json.loads(handed_over.kubeconfig.read_text())
    server, _ca, _admin = _lab_admin(handed_over.lab)
    assert config["clusters"][0]["cluster"]["server"] == server
    assert config["current-context"] == "arn:aws:eks:eu-west-1:123456789012:cluster/platykus"
    nodes = handed_over.kubectl_json("nodes")["items"]
    assert nodes


def test_platform_services_of_the_aws_provider_run_with_their_irsa_roles(handed_over):
    ns = {n["metadata"]["name"] for n in handed_over.kubectl_json("namespaces")["items"]}
    assert {"platykus-system", "platykus-monitoring", "platykus-storage"} <= ns
    values = handed_over.kubectl_json("configmap", "-n", "platykus-system", "karpenter-platykus-values")
    recorded = yaml.safe_load(values["data"]["values.yaml"]) if "values.yaml" in values["data"] else values["data"]
    assert IRSA_ANNOTATION in json.dumps(recorded)
    assert "arn:aws:iam::123456789012:role/platykus-aws-karpenter" in json.dumps(recorded)


def test_tenant_onboarding_on_the_handed_over_cluster(handed_over):
    rc, _changed, out = handed_over.playbook("playbooks/tenant-onboarding.yml")
    assert rc == 0, out[-6000:]
    ns = {n["metadata"]["name"] for n in handed_over.kubectl_json("namespaces")["items"]}
    assert {"acme-dev", "acme-prod"} <= ns
