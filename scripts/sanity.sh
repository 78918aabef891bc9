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
# The AWS modules build on amazon.aws (bundled with the ansible package); ansible-test only sees
# collections in the same root, so link it there for the run (ignored by git, removed afterwards).
deps="$root/collections/ansible_collections/amazon"
if [ ! -e "$deps" ]; then
  ln -s "$("$root/.venv/bin/python" -c 'import ansible_collections.amazon as a; print(list(a.__path__)[0])')" "$deps"
  trap 'rm -f "$deps"' EXIT
fi
cd "$root/collections/ansible_collections/platykus/platform"
test ! -d tests/sanity || { echo "sanity: ignore files are not allowed" >&2; exit 1; }
"$root/.venv/bin/ansible-test" sanity --python 3.11 --requirements --venv "$@"
