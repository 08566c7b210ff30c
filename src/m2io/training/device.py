"""Where training runs: CPU or GPU, bfloat16 or not, how many CPU threads.

Recipes leave ``use_cpu`` and ``bf16`` unset by default, so one recipe runs on a laptop (CPU,
float32) and on a GPU (bfloat16 where supported) unchanged. A GPU recipe still loads on a machine
without one (to inspect or edit it); training refuses to start there (:func:`hardware_problem`).
"""

from __future__ import annotations

from m2io.registry import require


def resolve_precision(use_cpu: bool | None, bf16: bool | None) -> tuple[bool, bool]:
    """``(use_cpu, bf16)`` with None resolved against the hardware present.

    Raises:
        ValueError: bfloat16 asked for on CPU.
    """
    torch = require("torch", "train")
    cuda = torch.cuda.is_available()
    use_cpu = (not cuda) if use_cpu is None else use_cpu
    if bf16 is None:
        bf16 = not use_cpu and torch.cuda.is_bf16_supported()
    if use_cpu and bf16:
        raise ValueError("bf16 training needs a GPU here; set bf16: false with use_cpu")
    return use_cpu, bf16


def hardware_problem(use_cpu: bool, bf16: bool) -> str | None:
    """Why this machine cannot train with these settings, or None when it can."""
    torch = require("torch", "train")
    if bf16 and not use_cpu and not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
        return (
            "bf16: true needs a CUDA GPU with bfloat16 and this machine has none "
            "(to train on CPU set use_cpu: true, bf16: false)"
        )
    return None


def set_threads(num_threads: int | None) -> None:
    """Cap torch's CPU threads (process-wide); None leaves torch's choice."""
    if num_threads is not None:
        require("torch", "train").set_num_threads(num_threads)
