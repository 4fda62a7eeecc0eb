"""How much the inference Lambda's runtime requirements take installed, as its image
installs them (``pip install --target``, see lambdas/inference/Dockerfile)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.options import BenchOptions, PartSkipped
from infra.template import REPO_ROOT

IMAGE_DIR = REPO_ROOT / "lambdas" / "inference"
REQUIREMENTS = IMAGE_DIR / "requirements.txt"


def _bytes_under(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def install(target: Path) -> None:
    """The image's pip command into ``target``, unless it holds these requirements."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()
    stamp = target.parent / f"{target.name}.sha256"
    if target.is_dir() and stamp.exists() and stamp.read_text() == digest:
        return
    shutil.rmtree(target, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    result = subprocess.run(
        [*pip, "--target", str(target), "-r", str(REQUIREMENTS)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise PartSkipped(f"pip could not install {REQUIREMENTS.name}: {result.stderr[-300:]}")
    stamp.write_text(digest)


def runtime_size(options: BenchOptions) -> dict[str, Any]:
    """Megabytes (10^6 bytes) of the installed requirements, and the five largest packages."""
    target = options.cache_dir / "bench" / "lambda-runtime"
    install(target)
    sizes = {entry.name: _bytes_under(entry) for entry in target.iterdir()}
    largest = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:5]
    return {
        "mb": round(sum(sizes.values()) / 1e6, 1),
        "largest_mb": [[name, round(size / 1e6, 1)] for name, size in largest],
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "requirements": [str(REQUIREMENTS.relative_to(REPO_ROOT))],
    }
