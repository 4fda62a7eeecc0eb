"""python -m infra.stack's options: template parameters checked before anything starts."""

from __future__ import annotations

import pytest

from infra.stack import StackError, main, template_parameters
from infra.template import load_template

DECLARED = load_template()["Parameters"]


def test_allowed_overrides_join_the_local_stage():
    parameters = template_parameters(
        ["DeleteFramesAfterProcessing=false", "ObservationRetentionDays=7"], DECLARED
    )
    assert parameters == {
        "Stage": "local",
        "DeleteFramesAfterProcessing": "false",
        "ObservationRetentionDays": "7",
    }


@pytest.mark.parametrize(
    "override, message",
    [
        ("DeleteFramesAfterProcessing=maybe", "allowed values are ['true', 'false']"),
        ("Nope=1", "NAME one of DeleteFramesAfterProcessing"),
        ("Stage", "expected NAME=VALUE"),
        ("ObservationRetentionDays=0", "must be between 1 and 400"),
        ("ObservationRetentionDays=ten", "must be a number"),
    ],
)
def test_a_bad_override_is_refused_with_what_is_allowed(override, message):
    with pytest.raises(StackError, match=message.replace("[", r"\[")):
        template_parameters([override], DECLARED)


def test_the_command_line_says_so_in_one_line_and_exits_2(capsys):
    assert main(["--parameter", "LogRetentionDays=2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stack: --parameter LogRetentionDays='2': allowed values")
    assert err.count("\n") == 1


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    assert "(default: 4566)" in capsys.readouterr().out
