#!/usr/bin/env bash
# Build .venv-interop (Python 3.11) for `make interop` with the exact pins of constraints-interop.txt.
# Rebuilt when the constraints change. torch must be the CPU build on disk: checked before and after.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-interop
# shellcheck source=scripts/find_python.sh
source scripts/find_python.sh
STAMP=$VENV/.constraints.sha256
WANT=$(sha256sum constraints-interop.txt | cut -d' ' -f1)

if [[ -f $STAMP && $(cat "$STAMP") == "$WANT" ]]; then
    echo "interop-env: $VENV up to date"
    exit 0
fi
PY311=$(find_python 3.11 "${PY311:-}") || { echo "interop-env: no Python 3.11 found (set PY311=/path/to/python3.11)" >&2; exit 2; }
rm -rf "$VENV"
"$PY311" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q -c constraints-interop.txt)

# which torch would pip take? it must be the +cpu build, never a CUDA one
probe=$(mktemp -d)
"$VENV/bin/python" -m pip download -q --no-deps -c constraints-interop.txt -d "$probe" torch
wheel=$(basename "$probe"/torch-*.whl)
rm -rf "$probe"
[[ $wheel == *+cpu* ]] || { echo "interop-env: pip would install $wheel, not the CPU build" >&2; exit 2; }

"${PIP[@]}" torch
"${PIP[@]}" nir nirtorch snntorch numpy h5py scipy loguru packaging pbr matplotlib pytest
"${PIP[@]}" --no-deps norse sinabs spikingjelly
"$VENV/bin/python" - <<'PY'
import torch
assert torch.__version__ == "2.13.0+cpu" and torch.version.cuda is None, torch.__version__
import norse, sinabs, snntorch, spikingjelly  # noqa: F401  (every library imports)
print(f"interop-env: torch {torch.__version__}, snntorch {snntorch.__version__}, norse, sinabs, spikingjelly ok")
PY
echo "$WANT" > "$STAMP"
