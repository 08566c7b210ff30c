#!/usr/bin/env bash
# PDF captions and running headers (issue 21, loader defects 5 and 9 of the dec8b reading):
# Gpredict's ten dec8b questions and R-admin's ten dec8 ones, answered and ranked beside
# Haystack with the reader before (BASE, exported with git archive) and after (this checkout),
# each on an index it builds itself into /tmp/pdf9-idx/<side>/<manual>, from a copy of the PDF
# (extracted images go beside the copy, never into the shared corpus).
#
#   results/pdf_captions_dec8/run.sh f401ce2
#   Q8B=/work/wt-fresh9/results/heldout_dec8b results/pdf_captions_dec8/run.sh f401ce2
#     (Q8B: the dec8b questions, results/heldout_dec8b once wip-fresh9 is merged)
set -euo pipefail
base=${1:?usage: run.sh BASE_COMMIT}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/results/pdf_captions_dec8
q8b=${Q8B:-$root/results/heldout_dec8b}
py=${PYTHON:-/work/main/.venv/bin/python}
work=${WORK:-/tmp/pdf9-run}
cd "$root"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
load() { cut -d' ' -f1-3 /proc/loadavg; }
rm -rf "$work/base" && mkdir -p "$work/base" && git archive "$base" src | tar -x -C "$work/base"
declare -A pdf=(
  [gpredict]=/work/corpora/fresh9/gpredict-manual/gpredict-user-manual.pdf
  [r-admin]=/work/corpora/fresh4/r-admin/R-admin.pdf
)
declare -A qdir=([gpredict]=$q8b [r-admin]=$root/results/heldout_dec8)
echo "base $base, code $(git rev-parse --short HEAD), $(date -u +%FT%TZ), load $(load)"
for m in gpredict r-admin; do
  for side in before after; do
    if [[ $side == before ]]; then src=$work/base/src; else src=$root/src; fi
    corpus=$work/corpus-$side/$m
    rm -rf "$corpus" && mkdir -p "$corpus" && cp "${pdf[$m]}" "$corpus/"
    echo "$m $side index $(date -u +%T) load $(load)"
    PYTHONPATH=$src /usr/bin/time -f "$m $side index wall %e s" "$py" -m m2io.cli.main index \
      "$corpus" --out "/tmp/pdf9-idx/$side/$m" --rebuild -q 2>&1 | grep -v '^embedding' | tail -2
    PYTHONPATH=$src "$py" benchmarks/howto_answers.py --corpus "$corpus" \
      --index "/tmp/pdf9-idx/$side/$m" --questions "${qdir[$m]}/$m-questions.txt" \
      --out "$out/$m-$side" 2> "$work/answers-$m-$side.log"
    "$py" -c "import json, sys; d = json.load(open(sys.argv[1])); m = sys.argv[2]
d['manuals'] = {m: {**d['manuals'][m], 'corpus': sys.argv[3]}}
d['questions'] = [q for q in d['questions'] if q['manual'] == m]
json.dump(d, open(sys.argv[4], 'w'))" "${qdir[$m]}/questions.json" "$m" "$corpus" "$work/q-$m.json"
    PYTHONPATH=$src "$py" benchmarks/peer_retrieval.py --questions "$work/q-$m.json" \
      --index-root "/tmp/pdf9-idx/$side" --manual "$m" --out "$out/peer-$m-$side.json" \
      2> "$work/peer-$m-$side.log" | grep "^| $m"
  done
done
echo "done $(date -u +%T) load $(load)"
