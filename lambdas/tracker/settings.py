"""The tracker function's configuration, read from the environment once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt

from adserver.tracks import TrackSettings
from lambdas.tracker.timeline import Timing


class TrackerSettings(BaseModel):
    """Everything the function reads from its environment (see template.yaml), validated."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    tracks_table: str = Field(alias="TRACKS_TABLE", min_length=3)
    track_retention_days: PositiveInt = Field(400, alias="TRACK_RETENTION_DAYS")
    # Hourly rollups each new person is added to; unset, the tracker writes tracks only.
    rollups_table: str | None = Field(None, alias="ROLLUPS_TABLE", min_length=3)
    # A person unseen this long has left: the next face there starts a new track.
    end_after_s: PositiveFloat = Field(3.0, alias="TRACK_END_AFTER_SECONDS")
    watcher_looking_s: PositiveFloat = Field(1.0, alias="WATCHER_LOOKING_SECONDS")
    # Frames are held back to be linked in capture order (lambdas.tracker.timeline): a frame
    # may arrive this long after one captured later than it ...
    hold_s: NonNegativeFloat = Field(5.0, alias="TRACK_HOLD_SECONDS")
    # ... and this long later than its camera's quickest frame; a quiet camera settles by then.
    lag_s: PositiveFloat = Field(10.0, alias="TRACK_LAG_SECONDS")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> TrackerSettings:
        """Read the settings; a missing or malformed variable raises pydantic's ValidationError."""
        return cls.model_validate(dict(os.environ if environ is None else environ))

    def track_settings(self) -> TrackSettings:
        return TrackSettings(end_after_s=self.end_after_s, watcher_looking_s=self.watcher_looking_s)

    def timing(self) -> Timing:
        """Raises ValueError when ``lag_s`` is shorter than ``hold_s``."""
        return Timing(hold_s=self.hold_s, lag_s=self.lag_s)
