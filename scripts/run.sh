#!/usr/bin/env bash
# Brings the whole call center up on 127.0.0.1: Redis, a real Asterisk (sandbox), the web
# (Daphne), the controller, the event projector, a Celery worker and beat, with demo data.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m scripts.run "$@"
