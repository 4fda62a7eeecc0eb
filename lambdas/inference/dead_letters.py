"""Jobs that can never succeed go to the dead-letter queue at once, with the reason attached.

Retrying a message that is not a frame job, or whose frame cannot be recorded, only delays
it by the queue's maxReceiveCount x visibility timeout. The message body is kept as it
arrived, so redriving it to the jobs queue replays the original job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# SQS message attribute values may be up to the message size limit; a reason is one line.
MAX_REASON_CHARS = 1000


class DeadLetters(Protocol):
    def send(self, body: str, reason: str, *, message_id: str) -> None:
        """Park ``body`` with why it cannot succeed; raises if it could not be parked."""
        ...


class SqsDeadLetters:
    """The jobs queue's dead-letter queue; ``reason`` and the original id ride as attributes."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        """``sqs`` is a boto3 SQS client."""
        self._sqs = sqs
        self._queue_url = queue_url

    def send(self, body: str, reason: str, *, message_id: str) -> None:
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": _one_line(reason)},
                "source_message_id": {"DataType": "String", "StringValue": message_id or "-"},
            },
        )


@dataclass
class InMemoryDeadLetters:
    """The same in a list, for unit tests: (body, reason, message_id) per dead letter."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, body: str, reason: str, *, message_id: str) -> None:
        self.sent.append((body, _one_line(reason), message_id))


def _one_line(reason: str) -> str:
    return " ".join(reason.split())[:MAX_REASON_CHARS] or "no reason given"
