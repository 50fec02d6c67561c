#!/usr/bin/env bash
# Every check and measurement that needs a CUDA GPU, in one command, so that a borrowed GPU
# machine is used for as few minutes as possible:
#
#   bash scripts/gpu_checks.sh [--wheels DIR] OUTDIR [STEP ...]
#
# Steps (default: env cudatests embed speed tests):
#   env      nvidia-smi, Python, torch, CUDA and the packages the project uses
#   cudatests  the tests that need a GPU, alone (tests whose name says cuda), so that they run
#            even where the whole suite does not fit the time left
#   tests    the whole test suite on this machine, in $TEST_WORKERS pytest-xdist workers
#            (default 8), each with $TEST_THREADS threads (2); env has checked that CUDA is
#            there, so a "needs a CUDA GPU" skip in the summary is a failure to look at
#   embed    benchmarks/embedding_throughput.py: 100M/500M/4B-shaped models, bf16, share of the
#            measured bf16 matmul peak                     -> OUTDIR/embedding_throughput_cuda.json
#   speed    benchmarks/training_speed.py --cuda, 100k and 1M contigs, stock Taxometer --cuda
#            against taxometer-kd                           -> OUTDIR/training_speed_cuda.json
#   speed100k, speed1m   the same, one size only (a machine with a short time limit per command)
#
# Python: $PYTHON, else .venv/bin/python, else python3; it must have taxometer-kd installed
# (scripts/setup.sh), or take --wheels DIR: for a machine that cannot download (an HPC GPU node,
# say) whose Python already has torch with CUDA. DIR holds wheels of what that Python lacks
# (numpy<2 where it has no numpy, vamb 5.0.4, vambcore, pycoverm, dadaptation, loguru, pyhmmer,
# pyrodigal, archspec, taxopy, and hatchling, editables, tomlkit, trove-classifiers, pathspec,
# pluggy, packaging to install this checkout); they go into a venv over the system's packages,
# and the checkout is installed there in editable mode. `bash scripts/offline_wheels.sh DIR 3.12`
# downloads them.
# Every step logs to OUTDIR/gpu_checks.log (one file: a borrowed machine may return only a few
# files); a failed step does not stop the others; the exit status says whether any failed.
# SPEED_EPOCHS (3) and SPEED_METHODS (stock,kd-head,kd-crossfit,student) shorten the speed steps.
# GPU_CHECKS_DEADLINE=SECONDS (from the script's start) stops the step still running then
# (SIGINT, then SIGKILL 15 s later), leaving time for the machine's own limit to return OUTDIR.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHEELS=
if [ "${1:-}" = "--wheels" ]; then WHEELS=$(realpath "$2"); shift 2; fi
if [ $# -lt 1 ]; then sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 2; fi
OUT=$(mkdir -p "$1" && realpath "$1"); shift
STEPS=("$@"); [ ${#STEPS[@]} -eq 0 ] && STEPS=(env cudatests embed speed tests)
LOG=$OUT/gpu_checks.log
DEADLINE=${GPU_CHECKS_DEADLINE:-}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1

if [ -n "$WHEELS" ]; then
    VENV=${TMPDIR:-/tmp}/taxometer-kd-gpu-venv
    BASE=${PYTHON:-python3}
    if [ ! -f "$VENV/.ready" ]; then  # (re)made until one bootstrap finished
        rm -rf "$VENV"
        "$BASE" -m venv --system-site-packages "$VENV" || exit 1
        # --system-site-packages reaches the base interpreter's packages only; when $BASE is
        # itself a venv (torch often lives in one), add its site-packages after the new venv's own
        purelib=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        "$BASE" -c "import site; [print(f'import site; site.addsitedir({d!r})') for d in site.getsitepackages()]" \
            > "$purelib/_base_site_packages.pth" || exit 1
        # the node's own numpy stays where it has one: its scipy and scikit-learn are built for it
        # (a numpy 1.26 over a numpy-2 scipy fails at import); vamb runs on numpy 2 too
        wheels=()
        for w in "$WHEELS"/*.whl; do
            case $(basename "$w") in numpy-*) "$BASE" -c "import numpy" 2>/dev/null && continue ;; esac
            wheels+=("$w")
        done
        "$VENV/bin/python" -m pip install -q --no-index --no-deps --no-compile --ignore-installed "${wheels[@]}" || exit 1
        "$VENV/bin/python" -m pip install -q --no-index --no-deps --no-build-isolation -e "$ROOT" || exit 1
        touch "$VENV/.ready"
    fi
    PY=$VENV/bin/python
    export PATH=$VENV/bin:$PATH
elif [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python; export PATH=$ROOT/.venv/bin:$PATH
else PY=python3
fi

failed=()
limited() {  # limited COMMAND...: run an executable, stopped at the deadline if one is set
    if [ -z "$DEADLINE" ]; then "$@"; return; fi
    local left=$((DEADLINE - SECONDS))
    if [ "$left" -le 5 ]; then echo "deadline reached: not started"; return 124; fi
    timeout -s INT -k 15 "$left" "$@"
}

step() {  # step NAME COMMAND...: run, log to OUTDIR/gpu_checks.log, remember a failure
    local name=$1; shift
    echo "=== $name: $*" | tee -a "$LOG"
    local t0=$SECONDS
    "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc after $((SECONDS - t0)) s (at $SECONDS s)" | tee -a "$LOG"
    [ "$rc" -eq 0 ] || failed+=("$name")
}

speed() {  # speed SIZES JSON
    limited "$PY" benchmarks/training_speed.py --cuda --sizes "$1" --epochs "${SPEED_EPOCHS:-3}" \
        --methods "${SPEED_METHODS:-stock,kd-head,kd-crossfit,student}" --out "$OUT/$2"
}

env_check() {
    nvidia-smi || true
    "$PY" - <<'PY'
import importlib.metadata as md, platform, torch
print("python", platform.python_version(), "| torch", torch.__version__, "| cuda", torch.version.cuda,
      "| available", torch.cuda.is_available(), "|", torch.cuda.get_device_name() if torch.cuda.is_available() else "-")
for name in ("numpy", "vamb", "taxometer-kd", "transformers", "tokenizers", "safetensors", "flash-attn"):
    try:
        print(name, md.version(name))
    except md.PackageNotFoundError:
        print(name, "not installed")
import vamb, taxometer_kd  # noqa: F401,E401  (an import error shows here, not in every later step)
assert torch.cuda.is_available(), "no CUDA device"
PY
}

for s in "${STEPS[@]}"; do
    case $s in
        env) step env env_check
             # without CUDA (or with a broken install) nothing after this means anything: stop
             if [ "${failed[*]:-}" ]; then echo "gpu_checks: env failed; stopping" >&2; exit 1; fi ;;
        cudatests) step cudatests limited "$PY" -m pytest -q -rs -p no:cacheprovider -k cuda tests/ ;;
        tests) step tests limited env OMP_NUM_THREADS="${TEST_THREADS:-2}" "$PY" -m pytest -q -rs -p no:cacheprovider -n "${TEST_WORKERS:-8}" tests/ ;;
        embed) step embed limited "$PY" benchmarks/embedding_throughput.py --out "$OUT/embedding_throughput_cuda.json" ;;
        speed) step speed speed 100000,1000000 training_speed_cuda.json ;;
        speed100k) step speed100k speed 100000 training_speed_cuda_100k.json ;;
        speed1m) step speed1m speed 1000000 training_speed_cuda_1m.json ;;
        *) echo "unknown step '$s' (known: env cudatests tests embed speed speed100k speed1m)" >&2; failed+=("$s") ;;
    esac
done
if [ ${#failed[@]} -gt 0 ]; then echo "gpu_checks: failed: ${failed[*]}" >&2; exit 1; fi
echo "gpu_checks: all steps passed; outputs in $OUT"
