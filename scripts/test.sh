#!/usr/bin/env bash
# Set up .venv/, run the static checks (ruff lint, ruff format, mypy; configured in
# pyproject.toml) and the test suite (about 10 minutes on 2 cores, in TEST_WORKERS pytest-xdist
# workers: 2 by default, 0 for one process). Extra arguments go to pytest.
# TAXOMETER_KD_TEST_REINSTALL=1 (CI) then also force-reinstalls vamb in .venv/ and checks that the
# flags survive it; that test runs alone, after the others, as it rewrites the venv under them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
check() {  # check NAME HINT COMMAND...: stop at the first check that fails
    local name=$1 hint=$2
    shift 2
    echo "test: $name"
    if ! "$@"; then
        echo "test: FAILED: $name ($*); $hint" >&2
        exit 1
    fi
}
check "ruff check (lint)" "see the findings above; many are fixed by .venv/bin/ruff check --fix ." .venv/bin/ruff check .
check "ruff format --check (formatting)" "run .venv/bin/ruff format ." .venv/bin/ruff format --check .
check "mypy (types)" "see the errors above" .venv/bin/mypy
reinstall=${TAXOMETER_KD_TEST_REINSTALL:-0}
TAXOMETER_KD_TEST_REINSTALL=0 .venv/bin/python -m pytest -q -n "${TEST_WORKERS:-2}" "$@"
if [ "$reinstall" = 1 ]; then
    echo "test: vamb force-reinstall (alone)"
    TAXOMETER_KD_TEST_REINSTALL=1 .venv/bin/python -m pytest -q tests/test_vamb_hook.py -k survives_vamb_force_reinstall
fi
