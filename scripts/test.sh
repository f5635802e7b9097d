#!/usr/bin/env bash
# The whole suite: lint, types, layering, migrations, then unit/django/protocol/e2e tests
# (e2e against the real sandbox Asterisk, SIPp and Redis). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
echo "== ruff";          $PY -m ruff check .
echo "== ruff format";   $PY -m ruff format --check .
echo "== mypy";          $PY -m mypy
echo "== import-linter"; .venv/bin/lint-imports
echo "== migrations";    $PY manage.py makemigrations --check --dry-run
echo "== pytest"
set +e
$PY -m pytest "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit $rc
