"""What a benchmark's result file records about the run, and how it is written: the machine and
its load at the start and the end (these machines are shared, so every figure says what it ran
beside), the date, then the JSON written to ``--out`` and printed.

Imported as ``from _report import ...`` (a benchmark runs as ``python benchmarks/NAME.py``, which
puts this folder first on ``sys.path``); it imports nothing of m2io.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any


def machine(load_at_start: tuple[float, float, float], **extra: Any) -> dict[str, Any]:
    """CPU count, platform, anything in ``extra``, and the load average then and now."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        **extra,
        "load_avg_at_start": load_at_start,
        "load_avg_at_end": os.getloadavg(),
    }


def write_result(path: str | Path, result: dict[str, Any]) -> None:
    """``result`` with the date, as JSON into ``path`` (its folder made) and on stdout."""
    result = {**result, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
