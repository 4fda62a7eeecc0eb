"""The inference function's configuration, read from the environment once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

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

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> InferenceSettings:
        """Read the settings; a missing or malformed variable raises pydantic's ValidationError."""
        return cls.model_validate(dict(os.environ if environ is None else environ))
