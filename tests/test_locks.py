"""The locks (requirements/*.lock, `make lock`): one version per package everywhere, no torch
on the CPU, and every install path reads them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
DEV_LOCK = ROOT / "requirements" / "dev.lock"
SUBSET_LOCKS = [
    ROOT / "requirements" / "demo.lock",
    ROOT / "requirements" / "gpu.lock",
    ROOT / "lambdas" / "inference" / "requirements.txt",
]
CPU_LOCKS = [DEV_LOCK, *SUBSET_LOCKS[:1], *SUBSET_LOCKS[2:]]


def pins(lock: Path) -> dict[str, str]:
    """{normalised name: version} of every `name==version` line."""
    found = re.findall(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)", lock.read_text(), re.M)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in found}


def test_every_lock_pins_what_dev_lock_pins():
    # GIVEN dev.lock, the one resolution the tests pass with
    dev = pins(DEV_LOCK)
    for lock in SUBSET_LOCKS:
        # THEN each other lock is a subset of it, version for version
        differing = {name: v for name, v in pins(lock).items() if dev.get(name) != v}
        assert pins(lock) and not differing, f"{lock.name}: {differing}"


def test_no_cpu_lock_holds_torch_or_cuda():
    for lock in CPU_LOCKS:
        assert not {n for n in pins(lock) if n == "torch" or n.startswith("nvidia-")}, lock
    assert "torch" not in pins(ROOT / "requirements" / "gpu.lock")


def test_dev_lock_satisfies_the_ranges_of_pyproject():
    # GIVEN the ranges pyproject.toml declares for the base and the extras dev.lock holds
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = [*project["dependencies"], *extras["demo"], *extras["train"], *extras["dev"]]
    dev = pins(DEV_LOCK)
    # THEN every one is pinned within its range: a range edited without `make lock` fails here
    stale = []
    for line in wanted:
        requirement = Requirement(line)
        version = dev.get(re.sub(r"[-_.]+", "-", requirement.name).lower())
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            stale.append(f"{line} (locked: {version})")
    assert not stale


def test_the_makefile_and_both_images_install_from_the_locks():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q -r requirements/dev.lock" in makefile
    assert "pip install -q -r requirements/demo.lock" in makefile
    assert "pip install -q -e" not in makefile  # the project itself only with --no-deps
    gpu = (ROOT / "infra" / "gpu_worker" / "Dockerfile").read_text()
    assert "-r requirements/gpu.lock" in gpu and '".[gpu]"' not in gpu
    inference = (ROOT / "lambdas" / "inference" / "Dockerfile").read_text()
    assert "-r /tmp/requirements.txt" in inference
    assert all("==" in line for line in _requirement_lines(SUBSET_LOCKS[2]))


def _requirement_lines(path: Path) -> list[str]:
    return [
        line
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
