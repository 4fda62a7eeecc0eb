"""What every part of the benchmark is given: one frozen set of options from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from infra.template import REPO_ROOT

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "datasets" / "utkface"


@dataclass(frozen=True)
class BenchOptions:
    """``quick`` shrinks every size to a smoke test whose figures are not to be quoted."""

    quick: bool = False
    data: Path = DEFAULT_DATA
    # per-frame: store scenes composed from ``data`` (far faces too), or the sample photos.
    frames_from: Literal["scenes", "samples"] = "scenes"
    peer_python: Path = REPO_ROOT / ".venv-peer" / "bin" / "python"
    cache_dir: Path = REPO_ROOT / ".cache"

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full


class PartSkipped(Exception):
    """A part cannot run on this machine; the message says what to do about it."""
