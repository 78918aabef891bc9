#!/usr/bin/env bash
# The main job on the lab: set up, start the lab, run site.yml, onboard the inventory's tenants,
# deploy one example app per tenant as that tenant, then say what was made and how to reach it.
#   bash scripts/lab-run.sh [--name LAB] [site.yml options]   (the lab `default` unless --name or PLATYKUS_LAB)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ "${1:-}" = "--name" ]; then
  export PLATYKUS_LAB="${2:?--name needs a lab name}"
  shift 2
fi
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
ansible-playbook -i inventories/lab playbooks/tenant-onboarding.yml

# Apps, Heroku-style (docs/apps.md): the platform writes each tenant namespace's short-lived CI
# kubeconfig, then app-deploy.yml deploys every app of inventories/lab/apps/<tenant>/ (one per
# example tenant) with its own tenant's identity, never as an admin.
ansible-playbook -i inventories/lab playbooks/app-credentials.yml
# Data-service add-ons (docs/data-services.md): globex's portal asks for PostgreSQL and Redis; the
# add-ons are made on the lab's servers, their Secrets written, and each URL is proved by a client
# logging in, writing and reading ("OK postgresql ...", "OK redis ...") before the apps deploy.
ansible-playbook -i inventories/lab playbooks/addons.yml
ansible-playbook -i inventories/lab playbooks/app-deploy.yml

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
app_hosts="$(kubectl get ingresses --all-namespaces -l platykus.io/app -o jsonpath='{.items[*].spec.rules[*].host}')"
APP_HOSTS="$app_hosts" python - <<'PY'
import os, time
import boto3, yaml
zone = yaml.safe_load(open("inventories/lab/group_vars/all/cluster.yml"))["platykus_route53_zone"]
route53 = boto3.client("route53")
found = [z for z in route53.list_hosted_zones_by_name(DNSName=zone)["HostedZones"] if z["Name"].rstrip(".") == zone]
print("Route53 zone %s: %s" % (zone, found[0]["Id"] if found else "missing"))
def rrsets():
    pages = route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=found[0]["Id"]) if found else []
    return [rrset for page in pages for rrset in page["ResourceRecordSets"]]
# external-dns (5 s interval) writes the apps' hosts just deployed: give it a minute.
wanted = set(os.environ.get("APP_HOSTS", "").split())
for _ in range(30):
    if not found or wanted <= {r["Name"].rstrip(".") for r in rrsets() if r["Type"] == "A"}:
        break
    time.sleep(2)
for rrset in rrsets():
    print("  %-45s %-4s %s" % (rrset["Name"], rrset["Type"], ", ".join(r["Value"] for r in rrset.get("ResourceRecords", []))[:80]))
PY
kubectl get secretstores --all-namespaces -l platykus.io/tenant -o custom-columns='NAMESPACE:.metadata.namespace,SECRETSTORE:.metadata.name,TENANT:.metadata.labels.platykus\.io/tenant,READY:.status.conditions[?(@.type=="Ready")].status'
kubectl get storageclasses
echo
echo "== Apps, each deployed as its tenant (releases, URLs, certificates from the platform CA, DNS records)"
kubectl get configmaps --all-namespaces -l platykus.io/app -o custom-columns='NAMESPACE:.metadata.namespace,APP:.metadata.labels.platykus\.io/app,RELEASE:.data.current' 2>/dev/null | awk 'NR == 1 || $3 != "<none>"'
kubectl get deployments --all-namespaces -l platykus.io/app -o custom-columns='NAMESPACE:.metadata.namespace,PROCESS:.metadata.name,READY:.status.readyReplicas,WANTED:.spec.replicas,IMAGE:.spec.template.spec.containers[0].image'
# cert-manager issues each app host's certificate; wait a little for a new lab's.
for _ in $(seq 1 30); do
  [ -z "$(kubectl get certificates --all-namespaces -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -v True)" ] && break
  sleep 2
done
kubectl get certificates --all-namespaces -o custom-columns='NAMESPACE:.metadata.namespace,CERTIFICATE:.metadata.name,HOSTS:.spec.dnsNames,READY:.status.conditions[?(@.type=="Ready")].status,EXPIRES:.status.notAfter'
echo "App URLs:"
kubectl get ingresses --all-namespaces -l platykus.io/app -o jsonpath='{range .items[*]}{range .spec.rules[*]}  https://{.host}/{"\n"}{end}{end}'
echo "Add-ons (their Secrets in the tenant namespaces; the apps read the URLs from them):"
kubectl get secrets --all-namespaces -l platykus.io/data-service -o custom-columns='NAMESPACE:.metadata.namespace,SECRET:.metadata.name,TYPE:.metadata.labels.platykus\.io/data-service'
kubectl get deployments --all-namespaces -l platykus.io/app -o jsonpath='{range .items[*]}{range .spec.template.spec.containers[0].env[?(@.valueFrom.secretKeyRef)]}  {.name} <- Secret {.valueFrom.secretKeyRef.name}{"\n"}{end}{end}' | sort -u
echo
echo "== The example apps, running for real on the real node (examples/apps; what each process did)"
# Per app: its web process's answer through its Service (kube-proxy, asked from a pod of the app),
# the tail of each process's log, and its add-ons reached from inside the pod with its Secrets' URLs.
kubectl get pods --all-namespaces -l platykus.io/app -o wide --field-selector=status.phase!=Succeeded
kubectl get deployments --all-namespaces -l platykus.io/app -o jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.labels.platykus\.io/app} {.metadata.labels.platykus\.io/process}{"\n"}{end}' |
  while read -r ns app process; do
    pod="$(kubectl get pods -n "$ns" -l "platykus.io/app=$app,platykus.io/process=$process" --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)"
    echo "-- $ns/$app $process (pod ${pod:-none running})"
    [ -n "$pod" ] || continue
    if [ "$process" = web ]; then
      ip="$(kubectl get service "$app-web" -n "$ns" -o jsonpath='{.spec.clusterIP}')"
      echo "   answer of http://$ip/ (Service $app-web):"
      kubectl exec -n "$ns" "$pod" -- /app/bin/check http "http://$ip/" 2>&1 | sed 's/^/     /' || true
      if kubectl get pod "$pod" -n "$ns" -o jsonpath='{.spec.containers[0].env[*].valueFrom.secretKeyRef.name}' | grep -q .; then
        echo "   add-ons, from inside the pod:"
        kubectl exec -n "$ns" "$pod" -- /app/bin/check addons 2>&1 | sed 's/^/     /' || true
      fi
    fi
    echo "   log tail:"
    kubectl logs -n "$ns" "$pod" --tail=3 2>&1 | sed 's/^/     /'
  done
for job in $(kubectl get jobs --all-namespaces -l platykus.io/app -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{" "}{end}'); do
  echo "-- release Job $job:"
  kubectl logs -n "${job%%/*}" "job/${job#*/}" --tail=2 2>&1 | sed 's/^/     /'
done

echo
echo "Reach it with:  eval \"\$(bin/platykus-lab env${PLATYKUS_LAB:+ --name $PLATYKUS_LAB})\"   then kubectl / helm / ansible-playbook"
bin/platykus-lab status
echo "main job done in $((SECONDS - started))s"
