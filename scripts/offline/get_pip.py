# Offline stand-in for the pip bootstrap script ansible-test downloads from its CI file host
# (which this project's machines cannot reach): ensurepip, then pip from the package index.
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if not a.startswith("--")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet"] + (args or ["pip==24.2"]))
