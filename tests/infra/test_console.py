"""The operator CLIs' terminal manners (infra.console): control characters escaped, a closed
pipe ends quietly, usage names the command one types, defaults are said once."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from pathlib import Path

import pytest

from infra.admin import build_parser
from infra.console import BROKEN_PIPE_STATUS, EscapingWriter, printable

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("door-1", "door-1"),
        ("a\x1b[2Jb\x07", "a\\x1b[2Jb\\x07"),
        ("line\nbreak\ttab\rreturn", "line\\nbreak\\ttab\\rreturn"),
        ("\x9b31m", "\\x9b31m"),  # C1: a one-byte CSI
        ("abc\u202etxt.exe", "abc\\u202etxt.exe"),  # right-to-left override
        ("café 東京", "café 東京"),
    ],
)
def test_printable_escapes_control_characters_and_nothing_else(raw, shown):
    assert printable(raw) == shown


def test_a_cli_writer_keeps_its_own_lines_and_columns_and_escapes_the_rest():
    # GIVEN a CLI printing a tab-separated line holding a stored id with an escape sequence
    out = io.StringIO()
    print("store\x1b]0;x\x07\tEurope/Paris", file=EscapingWriter(out))
    # THEN its tab and newline stay, the id's controls are shown escaped
    assert out.getvalue() == "store\\x1b]0;x\\x07\tEurope/Paris\n"


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "infra.costs", "--stores", *[str(n) for n in range(1, 400)]],
        ["-m", "infra.admin", "--help"],
    ],
)
def test_a_reader_that_closes_the_pipe_early_ends_the_cli_quietly(command):
    # GIVEN a CLI writing to a pipe whose reader has gone (`| head`)
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()
    # WHEN it prints THEN it ends without a traceback
    stderr = process.stderr.read().decode()
    process.stderr.close()
    status = process.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert status in (0, BROKEN_PIPE_STATUS)


def _python_m_modules() -> list[Path]:
    """The modules under infra/ and adserver/ that build an ArgumentParser and run as main."""
    found = []
    for path in sorted([*ROOT.glob("infra/**/*.py"), *ROOT.glob("adserver/**/*.py")]):
        text = path.read_text()
        if "ArgumentParser(" in text and '__name__ == "__main__"' in text:
            found.append(path)
    return found


@pytest.mark.parametrize("path", _python_m_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_usage_names_the_python_m_command(path):
    # GIVEN a CLI run as `python -m package.module`: argparse would say `usage: module.py`
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__main__")
    progs = [
        keyword.value.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "ArgumentParser"
        for keyword in node.keywords
        if keyword.arg == "prog" and isinstance(keyword.value, ast.Constant)
    ]
    # THEN its parser names the command one types
    assert progs == [f"python -m {module}"]


def test_help_names_no_none_default_and_no_default_twice():
    text = build_parser().format_help()
    assert "(default: None)" not in text
    assert "(default: your profile's or AWS_REGION)" in text
    assert text.count("your profile's or AWS_REGION") == 1
