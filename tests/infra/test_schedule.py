"""The local timer that stands in for EventBridge schedules (infra/schedule.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.schedule import fire, rate_seconds, scheduled_event
from lambdas.tracker.handler import is_sweep
from tests.aws_events import load_event

RULE = "arn:aws:events:us-east-1:123456789012:rule/smart-displays-TrackerFunctionSweep"


def test_rates_are_read_in_seconds_and_cron_is_refused():
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200
    with pytest.raises(ValueError, match="only rate"):
        rate_seconds("cron(0 12 * * ? *)")


def test_the_timer_hands_over_the_event_eventbridge_sends():
    # GIVEN the fixture EventBridge's scheduled event (tests/events)
    real = load_event("eventbridge_scheduled_sweep")
    # WHEN the timer builds one for the same rule and moment
    made = scheduled_event(RULE, "us-east-1", datetime(2026, 12, 3, 18, 0, tzinfo=UTC))
    # THEN it has the same shape and values, but its own id, and the tracker sweeps on it
    assert set(made) == set(real)
    assert {k: v for k, v in made.items() if k != "id"} == {
        k: v for k, v in real.items() if k != "id"
    }
    assert is_sweep(made)


def test_a_failing_invocation_is_logged_and_the_timer_goes_on(caplog):
    calls = []

    def broken(event, context):
        calls.append(event)
        raise RuntimeError("moto is down")

    assert fire(broken, "tracker", 30.0, RULE, "us-east-1") is False
    assert len(calls) == 1 and "failed its scheduled invocation" in caplog.text
