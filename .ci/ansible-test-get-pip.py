# lvs.cluster stand-in for pip's bootstrap script (get-pip.py), for ansible-test.
#
# ansible-test bootstraps pip into every virtualenv it makes (one per sanity test
# with requirements) with a script it downloads from ci-files.testing.ansible.com,
# a host the project's machines cannot reach (they reach the package index only).
# It uses a cached copy first: `make sanity` puts this file there, as
# ~/.ansible/test/cache/get_pip_<pip version, dots as underscores>.py, unless a
# real script is already cached. It bootstraps pip with ensurepip, then lets pip
# install what ansible-test asked for (the pinned pip) from the package index.
# The CA bundle is passed explicitly: ansible-test runs it with a cleaned environment.
import ensurepip
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if any(not a.startswith("-") for a in args):
    subprocess.check_call([sys.executable, "-m", "pip", "install",
                           "--cert", "/etc/ssl/certs/ca-certificates.crt"] + args)
