#!/usr/bin/env bash
# Loaders round 3 (issue 21, dec8b defects): the dec8b questions before and after, each side's
# indexes rebuilt with its own code.
#   results/loader9_dec8b/run.sh base /tmp/loader9-base/src   # code of f401ce2 (git archive)
#   results/loader9_dec8b/run.sh new  src
# Indexes go to /tmp/loader9-idx-TAG/<manual>; answers to results/loader9_dec8b/<manual>-TAG/.
set -euo pipefail
tag=${1:?usage: run.sh TAG SRC}
src=$(cd "${2:?usage: run.sh TAG SRC}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
here=results/loader9_dec8b
py=${PYTHON:-/work/main/.venv/bin/python}
idx=${IDX:-/tmp/loader9-idx-$tag}
cd "$root"
export PYTHONPATH=$src HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p $here/logs
load() { cut -d' ' -f1-3 /proc/loadavg; }
manuals=(homebank asymptote openrefine gpredict)
declare -A corpus=(
  [homebank]=/work/corpora/fresh9/homebank-data/usr/share/doc/homebank-data/help
  [asymptote]=/work/corpora/fresh9/asymptote-doc/usr/share/doc/asymptote/html
  [openrefine]=/work/corpora/fresh9/openrefine
  [gpredict]=/work/corpora/fresh9/gpredict-manual
)
echo "code $src, indexes $idx, $(date -u +%FT%TZ), load $(load)"
for m in "${manuals[@]}"; do
  echo "index $m: $(date -u +%T) load $(load)"
  "$py" -m m2io.cli.main index "${corpus[$m]}" --out "$idx/$m" --rebuild -q \
    > $here/logs/index-$m-$tag.log 2>&1
done
for m in "${manuals[@]}"; do
  echo "answers $m: $(date -u +%T) load $(load)"
  "$py" benchmarks/howto_answers.py --corpus "${corpus[$m]}" --index "$idx/$m" \
    --questions $here/$m-questions.txt --out $here/$m-$tag 2> $here/logs/answers-$m-$tag.log
done
echo "peer: $(date -u +%T) load $(load)"
"$py" benchmarks/peer_retrieval.py --questions $here/questions.json --index-root "$idx" \
  --out $here/peer-$tag.json 2> $here/logs/peer-$tag.log | tee $here/logs/peer-$tag.md
echo "done $(date -u +%T) load $(load)"
