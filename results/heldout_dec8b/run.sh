#!/usr/bin/env bash
# Held-out reading dec8b (issue 21, item 4): HomeBank, Asymptote, OpenRefine, Gpredict.
#
# Reruns steps 3-4 (answers, top page beside Haystack) with the code of the checkout this
# script sits in, on the same indexes, or on indexes rebuilt with that code.
#
#   results/heldout_dec8b/run.sh final            # answers in <manual>-final/, peer-final.json,
#                                                 # on the base indexes in /work/idx/held9
#   REBUILD=1 results/heldout_dec8b/run.sh final  # first rebuild every index into
#                                                 # /work/idx/held9-final (base ones untouched)
#
# Step 2 as it was run for the base reading:
#   REBUILD=1 IDX=/work/idx/held9 results/heldout_dec8b/run.sh base
# The corpora: see questions.json ("corpus", "package"); they were fetched with
#   mkdir -p /work/corpora/fresh9 && cd /work/corpora/fresh9
#   apt-get download homebank-data asymptote-doc gpredict
#   for f in *.deb; do dpkg -x "$f" "${f%%_*}"; done
#   mkdir -p gpredict-manual && zcat gpredict/usr/share/doc/gpredict/gpredict-user-manual.pdf.gz \
#     > gpredict-manual/gpredict-user-manual.pdf
#   # OpenRefine's manual: github OpenRefine/openrefine.org at 93bda31, in its git directory:
#   git archive HEAD docs/index.md docs/manual static/img | tar -x -C /work/corpora/fresh9/openrefine
#   cd /work/corpora/fresh9/openrefine && mv static/img img && rmdir static && mv docs/* . && rmdir docs
# ONLY="gpredict" (a list) runs those manuals only (the peer table still reads every index).
set -euo pipefail
tag=${1:?usage: run.sh TAG (answers go to <manual>-TAG/)}
root=$(cd "$(dirname "$0")/../.." && pwd)
here=results/heldout_dec8b
py=${PYTHON:-/work/main/.venv/bin/python}
idx=${IDX:-/work/idx/held9}
if [[ ${REBUILD:-0} == 1 && -z ${IDX:-} ]]; then idx=/work/idx/held9-$tag; fi
cd "$root"
export PYTHONPATH=$root/src HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p $here/logs
load() { cut -d' ' -f1-3 /proc/loadavg; }
manuals=(${ONLY:-homebank asymptote openrefine gpredict})
declare -A corpus=(
  [homebank]=/work/corpora/fresh9/homebank-data/usr/share/doc/homebank-data/help
  [asymptote]=/work/corpora/fresh9/asymptote-doc/usr/share/doc/asymptote/html
  [openrefine]=/work/corpora/fresh9/openrefine
  [gpredict]=/work/corpora/fresh9/gpredict-manual
)
echo "code $(git rev-parse --short HEAD), indexes $idx, $(date -u +%FT%TZ), load $(load)"
for m in "${manuals[@]}"; do
  if [[ ${REBUILD:-0} == 1 ]]; then
    echo "index $m: $(date -u +%T) load $(load)"
    /usr/bin/time -f "$m index wall %e s" "$py" -m m2io.cli.main index "${corpus[$m]}" \
      --out "$idx/$m" --rebuild -q 2>&1 | tee $here/logs/index-$m-$tag.log | grep -v '^embedding'
  fi
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
