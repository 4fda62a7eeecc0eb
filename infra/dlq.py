"""See, explain and redrive the frame jobs in the dead-letter queue.

    python -m infra.dlq list                      # the local stack (.local/outputs.json)
    python -m infra.dlq show MESSAGE_ID
    python -m infra.dlq redrive --all             # or: redrive MESSAGE_ID...
    python -m infra.dlq --stack-name smart-displays list     # a deployed stack (AWS)

A job reaches the dead-letter queue in one of two ways. The inference function sends one
that can never succeed (not a frame job, a frame that can have no observation) at once, with
a ``reason`` message attribute. The jobs queue's redrive policy moves one that failed
maxReceiveCount times (AWS errors, timeouts, a crash); it carries no reason, only its
receive count and the frames it names, and the function's logs say what went wrong.

Reading a message hides it from other readers for a moment and counts as a receive; list and
show make what they read visible again before they exit.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.console import printable, run_main
from infra.outputs import DEFAULT_OUTPUTS, StackOutputs

# Long enough to read and move a few thousand messages; made visible again at the end.
READ_VISIBILITY_S = 60
DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class Queues:
    """Where the dead letters are, where they go back to, and the client to reach both."""

    sqs: Any
    jobs_url: str
    dead_letter_url: str


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter queue, read for a person."""

    message_id: str
    receipt_handle: str
    body: str
    reason: str | None  # set by the function for a permanent failure; None after retries
    receive_count: int  # as SQS counts it, this tool's own reads included
    sent_at_ms: int
    frame_keys: list[str]
    attributes: dict[str, str]  # the message attributes, as strings

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> DeadLetter:
        attributes = {
            name: str(value.get("StringValue", value.get("BinaryValue", "")))
            for name, value in message.get("MessageAttributes", {}).items()
        }
        system = message.get("Attributes", {})
        return cls(
            message_id=str(message["MessageId"]),
            receipt_handle=str(message["ReceiptHandle"]),
            body=str(message["Body"]),
            reason=attributes.get("reason"),
            receive_count=int(system.get("ApproximateReceiveCount", 0)),
            sent_at_ms=int(system.get("SentTimestamp", 0)),
            frame_keys=frame_keys(str(message["Body"])),
            attributes=attributes,
        )

    @property
    def why(self) -> str:
        if self.reason is not None:
            return self.reason
        return "no reason attached: moved by the redrive policy after repeated failures"


def frame_keys(body: str) -> list[str]:
    """The frames a job names (S3 -> SNS -> SQS); [] for a body that is no such job."""
    document = _json(body)
    if isinstance(document, dict) and isinstance(document.get("Message"), str):
        document = _json(document["Message"])  # the SNS envelope
    records = document.get("Records") if isinstance(document, dict) else None
    keys = []
    for record in records if isinstance(records, list) else []:
        try:
            keys.append(unquote_plus(str(record["s3"]["object"]["key"])))
        except (KeyError, TypeError):
            continue
    return keys


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def read_dead_letters(queues: Queues, limit: int = DEFAULT_LIMIT) -> list[DeadLetter]:
    """Up to ``limit`` messages of the dead-letter queue, each read once and now hidden for
    READ_VISIBILITY_S; pass them to ``release`` or ``redrive`` afterwards."""
    seen: dict[str, DeadLetter] = {}
    while len(seen) < limit:
        response = queues.sqs.receive_message(
            QueueUrl=queues.dead_letter_url,
            MaxNumberOfMessages=min(10, limit - len(seen)),
            VisibilityTimeout=READ_VISIBILITY_S,
            WaitTimeSeconds=1,  # long polling asks every SQS server, so none is missed
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            break
        for message in messages:
            seen.setdefault(message["MessageId"], DeadLetter.from_message(message))
    return sorted(seen.values(), key=lambda letter: letter.sent_at_ms)


def release(queues: Queues, letters: Iterable[DeadLetter]) -> None:
    """Make messages read by ``read_dead_letters`` visible again at once."""
    for chunk in _chunks(list(letters), 10):
        queues.sqs.change_message_visibility_batch(
            QueueUrl=queues.dead_letter_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
                for i, letter in enumerate(chunk)
            ],
        )


def redrive(queues: Queues, letters: Iterable[DeadLetter]) -> int:
    """Send each letter's original body back to the jobs queue, then delete it from the
    dead-letter queue; how many moved. A crash between the two leaves a duplicate job, which
    the function records once (one observation per frame key)."""
    moved = 0
    for chunk in _chunks(list(letters), 10):
        sent = queues.sqs.send_message_batch(
            QueueUrl=queues.jobs_url,
            Entries=[{"Id": str(i), "MessageBody": letter.body} for i, letter in enumerate(chunk)],
        )
        delivered = [chunk[int(entry["Id"])] for entry in sent.get("Successful", [])]
        for failure in sent.get("Failed", []):
            letter = chunk[int(failure["Id"])]
            why = failure.get("Message", failure["Code"])
            print(f"dlq: {printable(letter.message_id)} not sent: {printable(why)}")
        if delivered:
            queues.sqs.delete_message_batch(
                QueueUrl=queues.dead_letter_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": letter.receipt_handle}
                    for i, letter in enumerate(delivered)
                ],
            )
        moved += len(delivered)
    return moved


def _chunks(items: list[DeadLetter], size: int) -> Iterable[list[DeadLetter]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------------- output
def describe_list(letters: Sequence[DeadLetter]) -> str:
    if not letters:
        return "the dead-letter queue is empty"
    lines = [f"{len(letters)} dead letter(s), oldest first:"]
    for letter in letters:
        frames = printable(", ".join(letter.frame_keys) or "(names no frame)")
        lines.append(
            f"{printable(letter.message_id)}  {_when(letter.sent_at_ms)}"
            f"  receives {letter.receive_count}"
            f"\n    frames  {frames}\n    why     {printable(letter.why)}"
        )
    return "\n".join(lines)


def describe_one(letter: DeadLetter) -> str:
    body = _json(letter.body)
    if isinstance(body, dict) and isinstance(body.get("Message"), str):
        inner = _json(body["Message"])
        if inner is not None:
            body = {**body, "Message": inner}  # show the S3 event, not an escaped string
    # json.dumps escapes control characters itself; a body that is not JSON is shown escaped.
    shown_body = printable(letter.body) if body is None else json.dumps(body, indent=2)
    attributes = "\n".join(
        f"    {printable(k)}: {printable(v)}" for k, v in sorted(letter.attributes.items())
    )
    frames = printable(", ".join(letter.frame_keys) or "(names no frame)")
    return "\n".join(
        [
            f"message id  {printable(letter.message_id)}",
            f"sent        {_when(letter.sent_at_ms)}",
            f"receives    {letter.receive_count} (this read included)",
            f"why         {printable(letter.why)}",
            f"frames      {frames}",
            "attributes" + ("\n" + attributes if attributes else "  (none)"),
            "body",
            shown_body,
        ]
    )


def _when(epoch_ms: int) -> str:
    if not epoch_ms:
        return "?"
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# ---------------------------------------------------------------------- where the queues are
def local_queues(outputs_path: Path) -> Queues:
    """The queues of a running local stack, from its outputs file."""
    outputs = StackOutputs.read(outputs_path)
    return Queues(
        sqs=outputs.client("sqs"),
        jobs_url=outputs.jobs_queue_url,
        dead_letter_url=outputs.dead_letter_queue_url,
    )


def deployed_queues(stack_name: str, region: str | None) -> Queues:
    """The queues of a deployed CloudFormation stack, from its outputs."""
    session = boto3.session.Session(region_name=region)
    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = {"JobsQueueUrl", "JobsDeadLetterQueueUrl"} - set(outputs)
    if missing:
        raise LookupError(f"stack {stack_name} has no output {', '.join(sorted(missing))}")
    return Queues(
        sqs=session.client("sqs"),
        jobs_url=outputs["JobsQueueUrl"],
        dead_letter_url=outputs["JobsDeadLetterQueueUrl"],
    )


# ---------------------------------------------------------------------- command line
def run(args: argparse.Namespace) -> int:
    if args.stack_name:
        queues = deployed_queues(args.stack_name, args.region)
    else:
        queues = local_queues(args.outputs)
    letters = read_dead_letters(queues, args.limit)
    if args.command == "list":
        release(queues, letters)
        print(describe_list(letters))
        return 0
    wanted = set(args.message_ids)
    if args.command == "redrive" and args.all:
        chosen = letters
    else:
        chosen = [letter for letter in letters if letter.message_id in wanted]
    chosen_ids = {letter.message_id for letter in chosen}
    release(queues, [letter for letter in letters if letter.message_id not in chosen_ids])
    missing = wanted - chosen_ids
    if args.command == "show":
        release(queues, chosen)
        for letter in chosen:
            print(describe_one(letter))
    else:
        moved = redrive(queues, chosen)
        print(f"redrove {moved} of {len(chosen)} dead letter(s) to {queues.jobs_url}")
        if moved < len(chosen):
            return 1
    if missing:
        missing_ids = printable(", ".join(sorted(missing)))
        print(f"dlq: not in the dead-letter queue: {missing_ids}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.dlq", description=__doc__.splitlines()[0]
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--outputs", type=Path, default=DEFAULT_OUTPUTS, help="a local stack's outputs.json"
    )
    where.add_argument("--stack-name", help="a deployed stack (its outputs name the queues)")
    parser.add_argument("--region", help="AWS region of --stack-name (default: your profile's)")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="messages to read")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every dead letter: id, receives, frames, why")
    show = commands.add_parser("show", help="one dead letter in full")
    show.add_argument("message_ids", nargs="+", metavar="MESSAGE_ID")
    again = commands.add_parser("redrive", help="move dead letters back to the jobs queue")
    again.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID")
    again.add_argument("--all", action="store_true", help="every dead letter")
    args = parser.parse_args(argv)
    if args.command == "redrive" and not args.all and not args.message_ids:
        parser.error("redrive needs MESSAGE_ID... or --all")
    try:
        return run(args)
    except FileNotFoundError as exc:
        print(f"dlq: {exc}", file=sys.stderr)
    except (ClientError, BotoCoreError, LookupError) as exc:
        print(f"dlq: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(run_main(main))
