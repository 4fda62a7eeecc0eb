"""The local stack's .local/outputs.json: where everything is and the tokens to reach it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from infra.template import REPO_ROOT

DEFAULT_OUTPUTS = REPO_ROOT / ".local" / "outputs.json"


@dataclass(frozen=True)
class StackOutputs:
    document: dict[str, Any]

    @classmethod
    def read(cls, path: Path = DEFAULT_OUTPUTS) -> StackOutputs:
        """The outputs of a running stack; FileNotFoundError says how to start one."""
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: start the stack first (make stack)")
        return cls(json.loads(path.read_text()))

    @property
    def endpoint_url(self) -> str:
        return str(self.document["endpoint_url"])

    @property
    def frames_bucket(self) -> str:
        return str(self.document["frames_bucket"])

    @property
    def adserver_url(self) -> str:
        return str(self.document["adserver_url"])

    @property
    def operator_token(self) -> str:
        return str(self.document["operator_token"])

    @property
    def jobs_queue_url(self) -> str:
        return str(self.document["jobs_queue_url"])

    @property
    def dead_letter_queue_url(self) -> str:
        return str(self.document["dead_letter_queue_url"])

    @property
    def pids_file(self) -> Path:
        """{name: pid} of the stack's processes (moto, worker-N, adserver), kept current."""
        return Path(self.document["pids_file"])

    def display(self, display_id: str) -> dict[str, Any]:
        return dict(self.document["displays"][display_id])

    def client(self, service: str) -> Any:
        """A boto3 client for the stack's moto server (local credentials, never real ones)."""
        return boto3.client(service, **self._connection())

    def resource(self, service: str) -> Any:
        """A boto3 resource (``dynamodb``, ``s3``) for the stack's moto server."""
        return boto3.resource(service, **self._connection())

    def _connection(self) -> dict[str, str]:
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": str(self.document["region"]),
            "aws_access_key_id": "local",
            "aws_secret_access_key": "local",
        }
