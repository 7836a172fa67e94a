#!/usr/bin/env bash
# Build .venv with Python 3.10 (lava-nc 0.10.0 needs >=3.10,<3.11) and install
# the project with the pinned versions in constraints.txt. Idempotent: a stamp
# file records the inputs, so a second call returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/find_python.sh
source scripts/find_python.sh

stamp=.venv/.spiking-mcc-installed
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

if ! py="$(find_python 3.10 "${PYTHON310:-}")"; then
    echo "bootstrap: error: no Python 3.10 interpreter found (lava-nc 0.10.0 needs Python >=3.10,<3.11);" \
         "install one (e.g. 'pyenv install 3.10.13') or set PYTHON310=/path/to/python3.10" >&2
    exit 1
fi
echo "bootstrap: using $py" >&2
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then
    rm -rf .venv
    "$py" -m venv .venv
fi
# The lock goes on the command line (-c), never in PIP_CONSTRAINT: pip copies
# environment variables into the isolated build environments of sdists, and
# brian2 2.9.0 (no cp310 wheel) builds against numpy>=2 while it runs on the
# pinned numpy 1.26.4 (lava-nc needs numpy<2). A -c flag applies to this
# install only, so the build gets its numpy 2 and the venv keeps 1.26.4.
unset PIP_CONSTRAINT
# (pip warns about this machine's extra index folders it cannot read; those lines are noise)
if ! .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]" 2>&1 \
        | { grep -v "^WARNING: Location" || true; }; then  # pipefail: the status is pip's
    echo "bootstrap: error: pip could not install the project into .venv (see above)" >&2
    exit 1
fi
.venv/bin/python -c 'import spiking_mcc, conversion, loihi_targets, brian2, lava, onnx, nir' \
    || { echo "bootstrap: error: installation into .venv failed" >&2; exit 1; }
echo "$want" > "$stamp"
echo "bootstrap: .venv ready" >&2
