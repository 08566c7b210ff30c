"""Headless Chromium for the page's tests and screenshots: Debian's browser, started so that it
makes no request of its own (this machine has no internet; without these flags Chromium keeps
trying to reach its services). Playwright drives it through ``executable_path``; its own
browser download is never used."""

from __future__ import annotations

import os
import shutil

CHROMIUM = os.environ.get("M2IO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
