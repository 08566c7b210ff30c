#!/bin/bash
# Top page on all 15 manuals in one run (issue 21 item 1, 2026-12-08c), with this checkout's code.
# usage: results/first_page_dec8c/run.sh TAG [--set KEY=VALUE ...]
# Index roots are copies (heading vectors are written into an index folder on first use):
#   cp -r /work/idx/held9-final $R/held9; cp -r /work/idx/held8-final9 $R/held8
#   cp -r /work/idx/base8 $R/seven   (git-doc left out)
tag=${1:?usage: run.sh TAG [--set KEY=VALUE ...]}; shift
R=${R:-/work/idx/ret4}; out=${OUT:-/work/runs}
root=$(cd "$(dirname "$0")/../.." && pwd); cd "$root"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=$root/src
py=${PYTHON:-/work/main/.venv/bin/python}
echo "start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
run() {
  "$py" benchmarks/peer_retrieval.py --questions "$1" --index-root "$2" \
    --out "$out/ret4-$tag-$3.json" "${@:4}" > "$out/ret4-$tag-$3.log" 2>&1 || echo "FAIL $1"
}
run results/heldout_dec8b/questions.json "$R/held9" dec8b "$@"
run results/heldout_dec8/questions.json "$R/held8" dec8 "$@"
run results/howto_unseen/questions.json "$R/seven" unseen "$@"
run results/fresh_reads/octave-questions.json "$R/seven" octave "$@"
run results/fresh_reads/night-questions.json "$R/seven" night "$@"
echo "done $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
