#!/usr/bin/env bash
# ansible-test sanity for the collection, with no ignore files. Runs offline: the pip bootstrap
# ansible-test would download is replaced by scripts/offline/get_pip.py.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
for name in get_pip_24_2.py; do
  cp "$root/scripts/offline/get_pip.py" "$cache/$name"
done
# ansible-test sees only the collections in the collection's own root, and the AWS modules build on
# amazon.aws (bundled with the ansible package): run it on a copy of the collection beside a link to
# amazon.aws, in a temporary root (nothing is linked into the working tree other runs use).
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ansible_collections/platykus" "$work/ansible_collections/amazon"
cp -a "$root/collections/ansible_collections/platykus/platform" "$work/ansible_collections/platykus/"
rm -rf "$work/ansible_collections/platykus/platform/tests/output"
find "$work" -name __pycache__ -prune -exec rm -rf {} +
ln -s "$("$root/.venv/bin/python" -c 'import ansible_collections.amazon as a; print(list(a.__path__)[0])')/aws" \
  "$work/ansible_collections/amazon/aws"
cd "$work/ansible_collections/platykus/platform"
test ! -d tests/sanity || { echo "sanity: ignore files are not allowed" >&2; exit 1; }
"$root/.venv/bin/ansible-test" sanity --python 3.11 --requirements --venv "$@"
