"""python -m infra.dlq against the template's queues on moto: list, show and redrive."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from infra import dlq
from infra.provision import provision
from infra.template import load_template, translate
from tests.aws_events import frame_job_event

KEY = "frames/demo-store/demo-cam-1/1700000000000.jpg"


@pytest.fixture
def queues(aws):
    """The jobs queue and its dead-letter queue as template.yaml declares them."""
    stack = provision(
        translate(load_template(), {"Stage": "local"}),
        boto3.session.Session(region_name="us-east-1"),
        stack_name=f"dlq-{uuid.uuid4().hex[:6]}",
        parameters={"Stage": "local"},
    )
    return dlq.Queues(
        sqs=boto3.client("sqs", region_name="us-east-1"),
        jobs_url=stack.outputs["JobsQueueUrl"],
        dead_letter_url=stack.outputs["JobsDeadLetterQueueUrl"],
    )


def job_body(key: str = KEY) -> str:
    return frame_job_event((key, 1234))["Records"][0]["body"]


def park_with_reason(queues, body: str, reason: str) -> str:
    """What the inference function does with a job that can never succeed."""
    return queues.sqs.send_message(
        QueueUrl=queues.dead_letter_url,
        MessageBody=body,
        MessageAttributes={"reason": {"DataType": "String", "StringValue": reason}},
    )["MessageId"]


def fail_until_redriven(queues, body: str) -> None:
    """Receive a job without deleting it until the redrive policy moves it (5 receives)."""
    queues.sqs.send_message(QueueUrl=queues.jobs_url, MessageBody=body)
    for _ in range(6):
        queues.sqs.receive_message(QueueUrl=queues.jobs_url, VisibilityTimeout=0)


def test_list_explains_each_dead_letter_and_leaves_it_in_the_queue(queues, capsys):
    # GIVEN a job parked by the function with a reason, and one moved by the redrive policy
    park_with_reason(queues, "not json", "not a frame job: body is not JSON")
    fail_until_redriven(queues, job_body())
    # WHEN an operator lists the dead letters
    letters = dlq.read_dead_letters(queues)
    dlq.release(queues, letters)
    print(dlq.describe_list(letters))
    # THEN each says why, or says that it failed its receives, and names its frame
    by_reason = {letter.reason: letter for letter in letters}
    assert set(by_reason) == {"not a frame job: body is not JSON", None}
    assert by_reason["not a frame job: body is not JSON"].frame_keys == []
    redriven = by_reason[None]
    assert redriven.frame_keys == [KEY]
    assert redriven.receive_count >= 5
    assert "moved by the redrive policy" in capsys.readouterr().out
    # AND both can be read again at once
    assert len(dlq.read_dead_letters(queues)) == 2


def test_show_prints_the_whole_message_with_its_s3_event_unwrapped(queues, capsys):
    message_id = park_with_reason(queues, job_body(), "frame cannot be recorded")
    [letter] = dlq.read_dead_letters(queues)
    text = dlq.describe_one(letter)
    assert message_id in text and "frame cannot be recorded" in text and KEY in text
    assert '"eventSource": "aws:s3"' in text  # the SNS Message shown as JSON, not escaped


def test_redrive_by_id_moves_only_that_job_back_with_its_body_unchanged(queues):
    # GIVEN two dead letters
    keep = park_with_reason(queues, job_body(KEY.replace("000.jpg", "001.jpg")), "first")
    move = park_with_reason(queues, job_body(), "second")
    # WHEN one is redriven by id through the command line's path
    letters = dlq.read_dead_letters(queues)
    chosen = [letter for letter in letters if letter.message_id == move]
    dlq.release(queues, [letter for letter in letters if letter.message_id != move])
    assert dlq.redrive(queues, chosen) == 1
    # THEN the jobs queue has its original body and the other one stays dead-lettered
    [job] = queues.sqs.receive_message(QueueUrl=queues.jobs_url, MaxNumberOfMessages=10)["Messages"]
    assert job["Body"] == job_body()
    assert [letter.message_id for letter in dlq.read_dead_letters(queues)] == [keep]


def test_the_command_line_redrives_all_from_a_local_stacks_outputs(queues, tmp_path, capsys):
    park_with_reason(queues, job_body(), "one")
    park_with_reason(queues, "{}", "two")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "endpoint_url": "https://sqs.us-east-1.amazonaws.com",  # mock_aws answers
                "region": "us-east-1",
                "jobs_queue_url": queues.jobs_url,
                "dead_letter_queue_url": queues.dead_letter_url,
            }
        )
    )
    assert dlq.main(["--outputs", str(outputs), "redrive", "--all"]) == 0
    assert "redrove 2 of 2" in capsys.readouterr().out
    assert dlq.read_dead_letters(queues) == []


def test_the_command_line_says_in_one_line_when_there_is_no_stack(tmp_path, capsys):
    assert dlq.main(["--outputs", str(tmp_path / "missing.json"), "list"]) == 1
    assert capsys.readouterr().err.strip().startswith("dlq: ")


@pytest.mark.parametrize("body", ["", "not json", "[]", '{"Message": "{"}', '{"Records": [1]}'])
def test_frame_keys_of_a_body_that_is_no_frame_job_are_empty(body):
    assert dlq.frame_keys(body) == []


def test_list_shows_control_characters_of_a_key_escaped(queues):
    # GIVEN a dead job whose frame key holds an escape sequence and a bell (an S3 key may)
    key = "frames/demo-store/demo-cam-1/\x1b]0;owned\x07\x1b[2J1700000000000.jpg"
    park_with_reason(queues, job_body(key), "bad key \x1b[31mred\x1b[0m")
    # WHEN an operator lists the dead letters
    letters = dlq.read_dead_letters(queues)
    dlq.release(queues, letters)
    text = dlq.describe_list(letters) + dlq.describe_one(letters[0])
    # THEN the terminal gets no control character, and the operator sees them escaped
    assert not any(ord(c) < 32 and c != "\n" for c in text)
    assert "demo-cam-1/\\x1b]0;owned\\x07\\x1b[2J1700000000000.jpg" in text
    assert "bad key \\x1b[31mred\\x1b[0m" in text
