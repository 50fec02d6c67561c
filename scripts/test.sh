#!/usr/bin/env bash
# Set up .venv/, run the static checks (ruff lint, ruff format, mypy; configured in
# pyproject.toml) and the test suite (a few minutes on 2 cores). Extra arguments go to pytest.
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
exec .venv/bin/python -m pytest -q "$@"
