#!/usr/bin/env bash
# Installs (if needed) and runs the test suite offline, with ruff first.
#   bash scripts/test.sh            # the default suite (what CI runs)
#   bash scripts/test.sh -m slow    # extra pytest arguments are passed through
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks scripts
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m pytest -q "$@"
