"""The Zip functions' Makefile recipes: they copy every project module the handler imports
and install Lambda's Linux wheels whatever the host."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = "/artifacts"


def recipe(target: str) -> list[list[str]]:
    """The commands `make` would run for ``target`` (not run), split into words."""
    shown = subprocess.run(
        ["make", "-n", target, f"ARTIFACTS_DIR={ARTIFACTS}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [shlex.split(line) for line in shown.splitlines() if line.strip()]


def copied(commands: list[list[str]]) -> list[str]:
    """Repository paths (files or folders) that the recipe's `cp` commands bundle."""
    sources = [word for words in commands if words[0] == "cp" for word in words[1:-1]]
    return [
        str(path.relative_to(ROOT))
        for word in sources
        if not word.startswith("-")
        for path in sorted(ROOT.glob(word))  # the shell expands lambdas/tracker/*.py
    ]


def project_modules(handler_module: str) -> list[str]:
    """Files of this repository that importing ``handler_module`` loads."""
    script = (
        f"import json, sys; import {handler_module}; "
        "print(json.dumps([getattr(m, '__file__', None) for m in list(sys.modules.values())]))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return sorted(
        str(Path(path).relative_to(ROOT))
        for path in json.loads(loaded)
        if path and Path(path).is_relative_to(ROOT) and ".venv" not in Path(path).parts
    )


@pytest.mark.parametrize(
    ("target", "handler_module"),
    [
        ("build-AdServerFunction", "adserver.handler"),
        ("build-TrackerFunction", "lambdas.tracker.handler"),
    ],
)
def test_the_bundle_holds_every_project_module_the_handler_imports(
    target: str, handler_module: str
) -> None:
    # GIVEN the recipe sam build runs and the project files the handler imports
    commands = recipe(target)
    bundled = copied(commands)
    # WHEN each imported file is looked for among what the recipe copies
    missing = [
        module
        for module in project_modules(handler_module)
        if not any(module == path or module.startswith(path.rstrip("/") + "/") for path in bundled)
    ]
    # THEN none is missing (the deployed function would fail its first import)
    assert missing == []
    # AND the dependencies are Lambda's Linux wheels, never the host's
    (pip,) = [words for words in commands if words[:3] == ["python3", "-m", "pip"]]
    assert "--only-binary=:all:" in pip and pip[pip.index("--platform") + 1].startswith("manylinux")


def test_the_ad_server_bundles_no_plotting_library() -> None:
    requirements = (ROOT / "adserver" / "requirements.txt").read_text()
    names = [line.split("[")[0].split(">")[0] for line in requirements.splitlines()]
    assert not {"matplotlib", "numpy"} & set(names)
