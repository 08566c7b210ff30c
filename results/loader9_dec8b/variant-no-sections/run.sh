cd /work/wt-loader9
export PYTHONPATH=/tmp/loader9-var/src HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
py=/work/main/.venv/bin/python
c=/work/corpora/fresh9/asymptote-doc/usr/share/doc/asymptote/html
echo start $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)
$py -m m2io.cli.main index $c --out /tmp/loader9-idx-var/asymptote --rebuild -q > /tmp/loader9-var/index.log 2>&1
$py benchmarks/howto_answers.py --corpus $c --index /tmp/loader9-idx-var/asymptote --questions results/loader9_dec8b/asymptote-questions.txt --out /tmp/loader9-var/asymptote-var 2> /tmp/loader9-var/answers.log
$py benchmarks/peer_retrieval.py --questions results/loader9_dec8b/questions.json --index-root /tmp/loader9-idx-var --manual asymptote --out /tmp/loader9-var/peer-var.json 2> /tmp/loader9-var/peer.log
echo done $(date -u +%T)
