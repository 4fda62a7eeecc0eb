"""The GPU figures of issue 10 (worker frames/s end to end, each network's faces/s by batch).

Nothing here measures them yet: this part records which GPU, if any, the machine has, and
the table says "not measured" instead of a figure nobody measured.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from bench.options import BenchOptions


def gpu_names() -> list[str]:
    """The NVIDIA GPUs nvidia-smi lists; none without the driver."""
    if shutil.which("nvidia-smi") is None:
        return []
    result = subprocess.run(
        ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
        capture_output=True,
        text=True,
    )
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def gpu(options: BenchOptions) -> dict[str, Any]:
    names = gpu_names()
    reason = (
        "no GPU on the benchmark machine"
        if not names
        else f"{names[0]} present, but the benchmark has no GPU part yet"
    )
    return {"measured": False, "reason": reason, "gpus": names, "frames_per_s": None}
