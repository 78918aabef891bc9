#!/usr/bin/env bash
# Set up everything Platykus needs on this machine: the Python virtualenv with the pinned
# requirements, and the lab's binaries (built from the Go module proxy, cached by pin).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$SECONDS

if ! command -v go >/dev/null 2>&1; then
  [ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "setup: Go 1.24+ is needed to build the lab (https://go.dev/doc/install)" >&2; exit 2; }
command -v python3 >/dev/null 2>&1 || { echo "setup: python3 (3.11+) is needed" >&2; exit 2; }
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "setup: installing python3-venv" >&2
  apt-get update -qq && apt-get install -y -qq python3-venv
fi

# Python: reinstall only when requirements.txt changes.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
want="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ "$(cat .venv/.requirements.sha 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python requirements into .venv"
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -r requirements.txt
  echo "$want" > .venv/.requirements.sha
fi

# Debian packages the lab's controllers come from (lab/controllers.yml: Alertmanager). RUNLEVEL=1:
# their packages' services must not start; the lab runs them itself.
missing=""
# The real nodes' runtime too (lab/platykus_lab/node.py: containerd, runc, CNI plugins, iptables).
for package in $(PYTHONPATH=lab .venv/bin/python -m platykus_lab.controllers --debian-packages) \
  $(PYTHONPATH=lab .venv/bin/python -m platykus_lab.node --debian-packages); do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

# The lab: kube-apiserver, controller-manager, scheduler, kubectl, etcd, kwok and helm; then the
# platform controllers it runs for real (metrics-server, Karpenter, Prometheus), cached by their own pins.
bin/platykus-lab build
# promtool of the Prometheus pin (lab/controllers.yml, built above) on the venv's PATH: `promtool check
# rules` / `promtool test rules` for the platform's and the cost recording rules (docs/cost.md).
ln -sf "$(PYTHONPATH=lab .venv/bin/python -c 'from platykus_lab import controllers as c; print(c.binary_path(c.load_specs()["promtool"]))')" .venv/bin/promtool
echo "setup: done in $((SECONDS - started))s"
