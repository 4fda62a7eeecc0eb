"""parse_frame_job: any SQS record is a frame job or NotAFrameJob with a reason, nothing else."""

from __future__ import annotations

import copy
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.inference.events import NotAFrameJob, frame_refs, parse_frame_job
from tests.aws_events import load_event

TEMPLATE = load_event("sqs_sns_s3_object_created")["Records"][0]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _parses_or_is_refused(record) -> None:
    try:
        job = parse_frame_job(record)
    except NotAFrameJob as exc:
        assert exc.reason.startswith("not a frame job")
        return
    for ref in frame_refs(job):
        assert isinstance(ref.key, str) and isinstance(ref.bucket, str)


@settings(max_examples=200, deadline=None)
@given(body=st.text(max_size=300) | json_values.map(json.dumps))
def test_any_body_is_a_job_or_refused_with_a_reason(body):
    record = copy.deepcopy(TEMPLATE)
    record["body"] = body
    _parses_or_is_refused(record)


@settings(max_examples=200, deadline=None)
@given(message=st.text(max_size=300) | json_values.map(json.dumps))
def test_any_sns_message_is_a_job_or_refused_with_a_reason(message):
    record = copy.deepcopy(TEMPLATE)
    notification = json.loads(record["body"])
    notification["Message"] = message
    record["body"] = json.dumps(notification)
    _parses_or_is_refused(record)


@settings(max_examples=200, deadline=None)
@given(s3_record=st.dictionaries(st.sampled_from(["eventName", "s3", "x"]), json_values))
def test_any_s3_record_is_a_job_or_refused_with_a_reason(s3_record):
    record = copy.deepcopy(TEMPLATE)
    notification = json.loads(record["body"])
    notification["Message"] = json.dumps({"Records": [s3_record]})
    record["body"] = json.dumps(notification)
    _parses_or_is_refused(record)


@settings(max_examples=100, deadline=None)
@given(record=json_values)
def test_any_record_shape_is_a_job_or_refused_with_a_reason(record):
    _parses_or_is_refused(record)


def test_a_deeply_nested_body_is_refused_not_a_recursion_error():
    record = copy.deepcopy(TEMPLATE)
    record["body"] = "[" * 100_000
    _parses_or_is_refused(record)
