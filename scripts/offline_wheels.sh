#!/usr/bin/env bash
# Wheels for `scripts/gpu_checks.sh --wheels DIR` on a GPU node that cannot download: what
# taxometer-kd needs beyond a Python that already has torch (with CUDA), transformers and
# tokenizers, for that node's Python version (run this where pip can download):
#
#   bash scripts/offline_wheels.sh DIR [PYTHON_VERSION]     # e.g. .whl 3.12 (default 3.12)
#
# Compiled packages come as manylinux x86-64 wheels for that version; vamb and dadaptation are
# published as source only and are built here (pure Python).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,9p' "$0"; exit 2; }
DIR=$1; PYV=${2:-3.12}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
mkdir -p "$DIR"
pip() { "$PY" -m pip "$@" 2>&1 | grep -v "^WARNING: Location" || true; }
abi=cp${PYV/./}
pip download -q --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp --abi "$abi" \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$DIR" \
    numpy==1.26.4 vambcore==0.1.2 pycoverm==0.6.2 pyhmmer==0.10.15 pyrodigal
pip download -q --no-deps --only-binary=:all: -d "$DIR" \
    loguru archspec pluggy packaging pathspec hatchling editables tomlkit trove-classifiers taxopy
pip wheel -q --no-deps -w "$DIR" vamb==5.0.4 dadaptation==3.2
n=$(ls "$DIR"/*.whl | wc -l)
[ "$n" -ge 17 ] || { echo "offline_wheels: only $n wheels in $DIR (expected 17)" >&2; exit 1; }
du -sh "$DIR"
