"""Screenshot of the web page answering a question on the demo corpus, with the real default
models (what README.md and docs/serve.md show):

    .venv/bin/python scripts/screenshot_serve.py [--question Q] [--out docs/img/serve.png] \
        [--source-out docs/img/source.png]

Starts `m2io serve` on a fresh demo index on a free loopback port, asks in headless Chromium
(Debian's /usr/bin/chromium driven by Playwright) and saves a full-page PNG; then opens the
answer's first source link that names a section and saves what the window shows (the page
rendered from the index, opened at that section).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from m2io.cli.demo import DEFAULT_QUESTION
from m2io.demo import corpus_path
from m2io.testing.browser import CHROMIUM, LAUNCH_ARGS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"m2io serve did not answer {url}/health in {deadline_s:.0f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--question", default=DEFAULT_QUESTION)
    ap.add_argument("--out", default="docs/img/serve.png")
    ap.add_argument("--source-out", default="docs/img/source.png")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    m2io = str(Path(sys.executable).with_name("m2io"))
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "demo.index"
        subprocess.run([m2io, "index", str(corpus_path()), "--out", str(index), "-q"], check=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        server = subprocess.Popen(
            [m2io, "serve", "--index", str(index), "--port", str(port), "-q"]
            + ["--corpus-root", str(corpus_path())],  # the demo corpus lies away from the index
            env=env,
        )
        try:
            wait_healthy(url)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                page = browser.new_page(viewport={"width": 900, "height": 900})
                page.goto(url + "/")
                page.fill("#question", args.question)
                page.click("#ask-button")
                page.wait_for_selector("#answer p", timeout=60_000)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=args.out, full_page=True)
                links = [a.get_attribute("href") for a in page.query_selector_all("#source-list a")]
                deep = [h for h in links if h and "#" in h]
                if args.source_out and (deep or links):
                    source = browser.new_page(viewport={"width": 900, "height": 700})
                    source.goto((deep[1:] or deep or links)[0])
                    source.wait_for_load_state("networkidle")
                    source.screenshot(path=args.source_out)
                    print(f"wrote {args.source_out} ({source.url})")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
