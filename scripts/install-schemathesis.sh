#!/usr/bin/env bash
# Installs the API fuzzer, schemathesis, at the version and hashes locked in
# packages/coordinator/test/fuzz/requirements.txt, into a virtualenv outside the repository that is kept between
# runs (docs/decisions/0024-api-fuzzing.md). The coordinator's fuzz test (part of `npm test`) runs it from there.
#
#   scripts/install-schemathesis.sh          install; does nothing (in well under a second) when the virtualenv
#                                            already holds what requirements.txt locks, for this Python
#   scripts/install-schemathesis.sh --path   print the schemathesis executable when it is installed and current;
#                                            otherwise say why on stderr and exit 1 (the fuzz test asks this way)
#
# The virtualenv: $TESSERA_FUZZ_VENV, by default ${XDG_CACHE_HOME:-~/.cache}/tessera/schemathesis. Python:
# $PYTHON, by default python3, with its venv module; requirements.txt is compiled for the machines' Python, 3.11
# (another version may need other dependencies: regenerate it as its header says).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
requirements="$root/packages/coordinator/test/fuzz/requirements.txt"
venv="${TESSERA_FUZZ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/schemathesis}"
python="${PYTHON:-python3}"
stamp_file="$venv/tessera-installed-from"

# What a virtualenv was installed from: the lock file's hash and the Python version. A change of either means
# a new virtualenv (a venv is tied to the Python that made it).
wanted_stamp() {
  local python_version
  python_version="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)" || return 1
  printf '%s python %s\n' "$(sha256sum "$requirements" | cut -d' ' -f1)" "$python_version"
}

# Why the installed fuzzer is not usable as it is, or nothing when it is.
problem() {
  local wanted
  if ! wanted="$(wanted_stamp)"; then
    echo "no working $python (set PYTHON to a Python 3 interpreter)"
  elif [ ! -x "$venv/bin/schemathesis" ] || [ ! -f "$stamp_file" ]; then
    echo "nothing installed in $venv"
  elif [ "$(cat "$stamp_file")" != "$wanted" ]; then
    echo "$venv was installed from another requirements.txt or Python ($(cat "$stamp_file"), want $wanted)"
  fi
}

if [ "${1:-}" = "--path" ]; then
  why="$(problem)"
  if [ -n "$why" ]; then
    echo "$why" >&2
    exit 1
  fi
  echo "$venv/bin/schemathesis"
  exit 0
fi

mkdir -p "$(dirname "$venv")"
# Two installs at once (two CI steps, a developer's shell) would build into the same directory.
exec 9>"$venv.lock"
flock 9

why="$(problem)"
if [ -z "$why" ]; then
  echo "schemathesis: already installed in $venv ($(cat "$stamp_file"))"
  exit 0
fi
echo "schemathesis: installing ($why)"
rm -rf "$venv"
"$python" -m venv "$venv"
# --require-hashes: every package, dependencies included, must be the locked version with a locked hash;
# --only-binary: wheels only, so nothing is built on the machine. The stamp is written last, so an install
# that failed halfway is redone next time.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  --require-hashes --only-binary=:all: -r "$requirements"
"$venv/bin/schemathesis" --version >/dev/null
wanted_stamp >"$stamp_file"
echo "schemathesis: $("$venv/bin/schemathesis" --version) installed in $venv"
