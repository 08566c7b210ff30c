#!/usr/bin/env bash
# Held-out reading (issue 21, item 4): FRR, gnuplot, xfig, R-admin.
#
# Reruns steps 3-4 (answers, top page beside Haystack) with the code of the checkout this
# script sits in, on the same indexes, or on indexes rebuilt with that code.
#
#   results/heldout_dec8/run.sh final            # answers in <manual>-final/, peer-final.json,
#                                                # on the base indexes in /work/idx/held8
#   REBUILD=1 results/heldout_dec8/run.sh final  # first rebuild every index into
#                                                # /work/idx/held8-final (base ones untouched)
#
# Step 2 as it was run for the base reading (22:13-22:17 UTC, e274a2f):
#   REBUILD=1 IDX=/work/idx/held8 results/heldout_dec8/run.sh base
# The corpora: see questions.json ("corpus"); xfig-doc and r-doc-pdf were fetched with
#   mkdir -p /work/corpora/fresh4 && cd /work/corpora/fresh4 && apt-get download xfig-doc r-doc-pdf
#   dpkg -x xfig-doc_*.deb xfig-doc && dpkg -x r-doc-pdf_*.deb r-doc-pdf
#   mkdir -p r-admin && cp -L r-doc-pdf/usr/share/doc/r-doc-pdf/manual/R-admin.pdf r-admin/
# ONLY="gpredict" (a list) runs those manuals only (the peer table still reads every index).
set -euo pipefail
tag=${1:?usage: run.sh TAG (answers go to <manual>-TAG/)}
root=$(cd "$(dirname "$0")/../.." && pwd)
here=results/heldout_dec8
py=${PYTHON:-/work/main/.venv/bin/python}
idx=${IDX:-/work/idx/held8}
if [[ ${REBUILD:-0} == 1 && -z ${IDX:-} ]]; then idx=/work/idx/held8-$tag; fi
cd "$root"
export PYTHONPATH=$root/src HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p $here/logs
load() { cut -d' ' -f1-3 /proc/loadavg; }
declare -A corpus=(
  [frr]=/work/corpora/fresh3/frr-doc/usr/share/doc/frr/html
  [gnuplot]=/work/corpora/fresh2/gnuplot-doc/usr/share/doc/gnuplot/htmldocs
  [xfig]=/work/corpora/fresh4/xfig-doc/usr/share/doc/xfig/html
  [r-admin]=/work/corpora/fresh4/r-admin
)
echo "code $(git rev-parse --short HEAD), indexes $idx, $(date -u +%FT%TZ), load $(load)"
for m in ${ONLY:-frr r-admin xfig gnuplot}; do
  if [[ ${REBUILD:-0} == 1 ]]; then
    echo "index $m: $(date -u +%T) load $(load)"
    /usr/bin/time -f "$m index wall %e s" "$py" -m m2io.cli.main index "${corpus[$m]}" \
      --out "$idx/$m" --rebuild -q 2>&1 | tee $here/logs/index-$m-$tag.log | grep -v '^embedding'
  fi
done
for m in ${ONLY:-frr r-admin xfig gnuplot}; do
  echo "answers $m: $(date -u +%T) load $(load)"
  "$py" benchmarks/howto_answers.py --corpus "${corpus[$m]}" --index "$idx/$m" \
    --questions $here/$m-questions.txt --out $here/$m-$tag 2> $here/logs/answers-$m-$tag.log
done
echo "peer: $(date -u +%T) load $(load)"
"$py" benchmarks/peer_retrieval.py --questions $here/questions.json --index-root "$idx" \
  --out $here/peer-$tag.json 2> $here/logs/peer-$tag.log | tee $here/logs/peer-$tag.md
echo "done $(date -u +%T) load $(load)"
