#!/usr/bin/env bash
# CI for the optional DAC front end: a separate venv with the torch/torchaudio pair DAC needs
# (torch 2.9.1 + torchaudio 2.9.1; see README "Optional: the DAC front end"), then its tests.
# Heavy (~7.5 GB venv); the core CI (.ci/run) does not need it. VENV overrides the location.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-/tmp/venv-dac}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

start=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q "torch==2.9.1" "torchaudio==2.9.*"
"$VENV/bin/pip" install -q -e ".[dac,dev]"
"$VENV/bin/python" -c "import dac, torch, torchaudio; print('dac', dac.__version__, 'torch', torch.__version__)"
installed=$(date +%s)

"$VENV/bin/python" -m pytest tests/test_dac.py -q -p no:cacheprovider
done_=$(date +%s)
echo "dac CI: install $((installed - start)) s, tests $((done_ - installed)) s"
