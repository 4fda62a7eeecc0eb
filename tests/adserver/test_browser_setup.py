"""Which browser the player tests drive, and what happens without one."""

from __future__ import annotations

import pytest

from tests.adserver import browser


def no_chromium_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)


def test_without_a_browser_the_player_tests_are_skipped_saying_how_to_run_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN no chromium on PATH, no CHROMIUM and not on CI (a Mac without apt-get)
    no_chromium_on_path(monkeypatch)
    monkeypatch.delenv("CI", raising=False)
    # WHEN the browser is looked for THEN the test is skipped, naming CHROMIUM
    with pytest.raises(pytest.skip.Exception, match="CHROMIUM"):
        browser.chromium_path()


def test_on_ci_a_missing_browser_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    no_chromium_on_path(monkeypatch)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no chromium"):
        browser.chromium_path()


def test_chromium_names_the_browser(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # GIVEN CHROMIUM naming an executable (a Chrome elsewhere) WHEN looked for THEN it is used
    chrome = tmp_path / "Google Chrome"
    chrome.write_text("#!/bin/sh\n")
    chrome.chmod(0o755)
    monkeypatch.setenv("CHROMIUM", str(chrome))
    assert browser.chromium_path() == str(chrome)
    # AND a CHROMIUM that is not an executable fails rather than skips
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "missing"))
    with pytest.raises(pytest.fail.Exception, match="not an executable"):
        browser.chromium_path()
