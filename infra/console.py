"""What the operator CLIs (``python -m infra.dlq``, ``infra.admin``, ``infra.costs``) share
about the terminal they print to.

Stored strings came from outside: an object key, a message body, a store id, a reason. Printed
raw, the control characters in them are obeyed by the operator's terminal (ESC sequences move
the cursor, rewrite lines, retitle the window; BEL rings), so ``printable`` shows them escaped.
``run_main`` lets a CLI whose reader went away (``| head``) end quietly, as Unix tools do.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from typing import TextIO

# C0 controls, DEL and C1 controls, and the Unicode format characters that reorder or hide
# text on screen (bidirectional overrides and isolates, line and paragraph separators).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# The same but newlines and tabs, which lay out a CLI's own lines and columns.
_UNPRINTABLE_IN_LAYOUT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What a shell reports for a process ended by SIGPIPE (128 + 13).
BROKEN_PIPE_STATUS = 141


def printable(value: object) -> str:
    """``str(value)`` with every control character escaped (``\\x1b``, ``\\n``, ``\\u202e``);
    text without them comes back unchanged."""
    return _UNPRINTABLE.sub(_escape, str(value))


class EscapingWriter:
    """A text stream for a CLI's whole output: what is written to it reaches ``stream`` with
    control characters escaped, except the newlines and tabs of the CLI's own layout."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_UNPRINTABLE_IN_LAYOUT.sub(_escape, text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: ...)" to an option's help only where there is a default to name, and
    the help does not already say it: no "(default: None)", none said twice."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or "(default:" in text:
            return text
        return super()._get_help_string(action)


def run_main(main: Callable[[], int]) -> int:
    """``main()``'s exit status, or ``BROKEN_PIPE_STATUS`` without a traceback when stdout's
    reader closed it early (``python -m infra.costs | head``)."""
    try:
        status = main()
        sys.stdout.flush()  # a pipe closed after the last print fails here, not at exit
        return status
    except BrokenPipeError:
        # Python flushes stdout once more at exit and would report that failure too: send
        # whatever is still buffered to /dev/null instead (as the Python docs advise).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE_STATUS
