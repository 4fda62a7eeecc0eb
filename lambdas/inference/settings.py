"""The inference function's configuration, read from the environment once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from model.images import MAX_PIXELS


class InferenceSettings(BaseModel):
    """Everything the function reads from its environment (see template.yaml), validated."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    observations_table: str = Field(alias="OBSERVATIONS_TABLE", min_length=3)
    observation_retention_days: PositiveInt = Field(30, alias="OBSERVATION_RETENTION_DAYS")
    delete_frames_after_processing: bool = Field(True, alias="DELETE_FRAMES_AFTER_PROCESSING")
    # Frames are camera stills: anything larger is not one, and is rejected before download.
    max_frame_bytes: PositiveInt = Field(20 * 1024 * 1024, alias="MAX_FRAME_BYTES")
    max_pixels: PositiveInt = Field(MAX_PIXELS, alias="MAX_FRAME_PIXELS")
    # A frame gets this long to be fetched and decoded before the model looks at it, and the
    # handler starts no frame with less than this left of the invocation (template: 30 s).
    frame_budget_s: PositiveFloat = Field(10.0, alias="FRAME_BUDGET_SECONDS")
    # Jobs that can never succeed go here at once, with the reason; without it they are
    # failed and reach the dead-letter queue through the jobs queue's redrive policy.
    dead_letter_queue_url: str | None = Field(None, alias="DEAD_LETTER_QUEUE_URL", min_length=1)
    # Frames from stores and cameras not in the registry are rejected; without a registry
    # table every camera is accepted (unit tests, tools).
    registry_table: str | None = Field(None, alias="REGISTRY_TABLE", min_length=3)
    registry_cache_s: PositiveFloat = Field(60.0, alias="REGISTRY_CACHE_SECONDS")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> InferenceSettings:
        """Read the settings; a missing or malformed variable raises pydantic's ValidationError."""
        return cls.model_validate(dict(os.environ if environ is None else environ))
