"""Schemathesis drives the running ad server from its own OpenAPI description: no 5xx."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adserver.uploads import signing_client
from tests.adserver.live_server import TOKENS, live_server
from tests.conftest import REGION


def test_no_server_errors_for_any_generated_request(
    aws: None, s3: Any, bucket_name: str, tmp_path: Path
) -> None:
    # GIVEN the running server and the operator token, which passes every route's auth
    # (the 401/403 paths are covered by the route tests), so requests reach the logic
    command = Path(sys.executable).with_name("schemathesis")
    if not command.exists():
        pytest.fail("schemathesis is not installed (it is in the dev extra)")
    with live_server(signing_client(REGION), bucket_name) as server:
        # WHEN schemathesis sends examples, edge cases and fuzzed requests to every operation
        result = subprocess.run(
            [
                str(command),
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--header",
                f"Authorization: Bearer {TOKENS['operator']}",
                "--max-examples",
                "25",
                "--seed",
                "4",
                "--phases",
                "examples,coverage,fuzzing",
                "--workers",
                "1",
                "--generation-database",
                "none",
                "--no-color",
                "--report-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,  # schemathesis keeps a .schemathesis/ cache in its working folder
        )
    # THEN every generated case passed: no response was a 5xx
    summary = result.stdout[-4000:]
    assert result.returncode == 0, summary
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts is not None, summary
    assert int(counts[1]) == int(counts[2]) >= 100, summary
    print(summary)
