#!/usr/bin/env bash
# The main job on the lab: set up, start the lab, run site.yml and onboard the inventory's
# tenants, then say what was made and how to reach it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$SECONDS
bash scripts/setup.sh

bin/platykus-lab up --inventory inventories/lab
eval "$(bin/platykus-lab env)"
export PATH="$root/.venv/bin:$PATH"

# No chart repository is reachable here: serve the stand-in charts (same names and pinned
# versions as catalog/services.yml) from a local repository for the duration of the job.
repo="$(python tests/standin_charts.py "$root/out/charts" | tail -n 1)"
port="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python -m http.server --bind 127.0.0.1 --directory "$repo" "$port" >/dev/null 2>&1 &
mirror_pid=$!
trap 'kill "$mirror_pid" 2>/dev/null || true' EXIT
export PLATYKUS_CHART_MIRROR="http://127.0.0.1:$port"

ansible-playbook -i inventories/lab site.yml "$@"
if [ -f playbooks/tenant-onboarding.yml ]; then
  ansible-playbook -i inventories/lab playbooks/tenant-onboarding.yml
fi

echo
echo "== What Platykus made on the lab"
kubectl get nodes -L node.kubernetes.io/instance-type,topology.kubernetes.io/zone,karpenter.sh/capacity-type
kubectl get namespaces -l app.kubernetes.io/managed-by=platykus -L platykus.io/tenant,pod-security.kubernetes.io/enforce
helm list --all-namespaces 2>/dev/null || true
echo
echo "== Real metrics (metrics-server scraping kwok) and Karpenter's NodePools"
# metrics-server serves a node after two scrapes: give a new lab that long.
for _ in $(seq 1 30); do kubectl top nodes >/dev/null 2>&1 && break; sleep 2; done
kubectl top nodes
kubectl get nodepools -o custom-columns='NODEPOOL:.metadata.name,TYPES:.spec.template.spec.requirements[?(@.key=="node.kubernetes.io/instance-type")].values,CAPACITY:.spec.template.spec.requirements[?(@.key=="karpenter.sh/capacity-type")].values,ZONES:.spec.template.spec.requirements[?(@.key=="topology.kubernetes.io/zone")].values,LIMIT-CPU:.spec.limits.cpu,NODES:.status.resources.nodes'
echo
echo "== Certificates, DNS and secrets (cert-manager, external-dns, external-secrets on the lab's AWS)"
kubectl get clusterissuers -o custom-columns='CLUSTERISSUER:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,CA-SECRET:.spec.ca.secretName'
python - <<'PY'
import boto3, yaml
zone = yaml.safe_load(open("inventories/lab/group_vars/all/cluster.yml"))["platykus_route53_zone"]
route53 = boto3.client("route53")
found = [z for z in route53.list_hosted_zones_by_name(DNSName=zone)["HostedZones"] if z["Name"].rstrip(".") == zone]
print("Route53 zone %s: %s" % (zone, found[0]["Id"] if found else "missing"))
for page in route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=found[0]["Id"]) if found else []:
    for rrset in page["ResourceRecordSets"]:
        print("  %-45s %-4s %s" % (rrset["Name"], rrset["Type"], ", ".join(r["Value"] for r in rrset.get("ResourceRecords", []))[:80]))
PY
kubectl get secretstores --all-namespaces -l platykus.io/tenant -o custom-columns='NAMESPACE:.metadata.namespace,SECRETSTORE:.metadata.name,TENANT:.metadata.labels.platykus\.io/tenant,READY:.status.conditions[?(@.type=="Ready")].status'
kubectl get storageclasses
echo
echo "Reach it with:  eval \"\$(bin/platykus-lab env)\"   then kubectl / helm / ansible-playbook"
bin/platykus-lab status
echo "main job done in $((SECONDS - started))s"
