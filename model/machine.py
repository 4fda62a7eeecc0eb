"""What a measurement ran on, written beside every figure that depends on it.

Milliseconds move with the host by more than a target's margin: the store-scene benchmark
read 54 ms per frame on one host of this project's machine type and 80 ms on another (an
AVX2-only EPYC). So a report names the CPU's family, model and widest vector instructions,
and the versions of the libraries that draw, decode and run the frames.
"""

from __future__ import annotations

import os
import platform
import re
from importlib import metadata
from pathlib import Path

# The libraries a store-scene figure depends on: OpenCV and Pillow draw and decode the
# frames, numpy draws them, LiteRT runs the networks.
LIBRARIES = ("numpy", "pillow", "opencv-python-headless", "ai-edge-litert")


# Widest first: what XNNPACK's float and int8 kernels can use.
_VECTOR_FLAGS = (
    ("avx512_vnni", "AVX-512 VNNI"),
    ("avx512f", "AVX-512"),
    ("avx_vnni", "AVX2 VNNI"),
    ("avx2", "AVX2"),
)


def library_versions() -> dict[str, str]:
    """Installed versions of LIBRARIES ("not installed" where one is missing)."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe(cpuinfo: str | None = None) -> str:
    """CPU model (family, model, vector instructions), cores, memory and Python, in one line.

    ``cpuinfo`` is the text of ``/proc/cpuinfo``, read when not given.
    """
    cpu = platform.processor() or platform.machine()
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields = dict(re.findall(r"^(model name|cpu family|model|flags)\s*:\s*(.*)$", cpuinfo, re.M))
    if "model name" in fields:
        cpu = fields["model name"].strip()
        flags = set(fields.get("flags", "").split())
        vector = next((name for flag, name in _VECTOR_FLAGS if flag in flags), "no AVX2")
        cpu += (
            f" (family {fields.get('cpu family', '?')} model {fields.get('model', '?')}, {vector})"
        )
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores of {cpu}, {memory_gib:.0f} GiB, Python {platform.python_version()}"
    )
