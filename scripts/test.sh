#!/usr/bin/env bash
# Set up everything and run every test: lint, unit tests, and integration tests against
# labs this script's pytest session starts and stops itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$SECONDS
bash scripts/setup.sh
export PATH="$root/.venv/bin:$PATH"

echo "== ruff (ruff.toml)"
ruff check .
ruff format --check .

echo "== ansible-lint --profile production"
ansible-lint --profile production --offline -q site.yml playbooks roles molecule awx

echo "== ansible-test sanity (no ignore files)"
bash scripts/sanity.sh

echo "== pytest (set-up, lint and sanity took $((SECONDS - started))s)"
# pytest's summary stays the last line: CI reads it.
# Two workers, one test module each at a time (a lab of its own per worker): most lab tests wait on
# controllers rather than compute, so two overlap well on two cores.
exec python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile "$@"
