#!/usr/bin/env bash
# Set up .venv/ at the repository root: torch (CPU wheel 2.13.0 where available), vamb 5.0.4
# without its torch/numpy pins, and taxometer-kd (editable) with its test/bench/GenomeOcean extras.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PY --version)"
    $PY -m venv .venv
fi
pip() { .venv/bin/python -m pip "$@" 2>&1 | grep -v "^WARNING: Location" || true; }
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    echo "setup: installing torch==$TORCH_VERSION"
    pip install -q "torch==$TORCH_VERSION"
fi
if ! .venv/bin/python -c "import vamb" 2>/dev/null; then
    echo "setup: installing vamb 5.0.4 without its pins"
    pip install -q --no-deps "vamb==5.0.4"
fi
echo "setup: installing taxometer-kd and its dependencies"
pip install -q -e ".[test,bench,genomeocean]"
.venv/bin/python - <<'PY'
import torch, vamb, numpy
assert numpy.__version__.startswith("1."), numpy.__version__
print(f"setup: ok (torch {torch.__version__}, vamb {vamb.__version_str__}, numpy {numpy.__version__})")
PY
