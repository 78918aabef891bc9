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
echo "Reach it with:  eval \"\$(bin/platykus-lab env)\"   then kubectl / helm / ansible-playbook"
bin/platykus-lab status | head -2
echo "main job done in $((SECONDS - started))s"
