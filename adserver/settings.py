"""The ad server's configuration, read from the environment once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, PositiveInt


class AdServerSettings(BaseModel):
    """Everything the ad server reads from its environment (see template.yaml), validated."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    observations_table: str = Field(alias="OBSERVATIONS_TABLE", min_length=3)
    registry_table: str = Field(alias="REGISTRY_TABLE", min_length=3)
    frames_bucket: str = Field(alias="FRAMES_BUCKET", min_length=3)
    impressions_table: str = Field("impressions", alias="IMPRESSIONS_TABLE", min_length=3)
    # Hourly rollups: plays are added to them, reports read them (adserver.rollups).
    rollups_table: str = Field("rollups", alias="ROLLUPS_TABLE", min_length=3)
    # The tracker's tracks: plays count the people present while they played. Unset: not.
    tracks_table: str | None = Field(None, alias="TRACKS_TABLE", min_length=3)
    # A report shows no hour, bucket or camera of fewer people than this.
    report_min_cell_count: PositiveInt = Field(5, alias="REPORT_MIN_CELL_COUNT")
    # The catalog document; until one is uploaded the shipped seed catalog is served.
    catalog_bucket: str = Field("catalog", alias="CATALOG_BUCKET", min_length=3)
    catalog_key: str = Field("catalog.json", alias="CATALOG_KEY", min_length=1)
    catalog_max_age_s: PositiveInt = Field(10, alias="CATALOG_MAX_AGE_S")
    # Players poll next-ad this often (Cache-Control max-age); keep it under the 2 s target.
    next_ad_max_age_s: PositiveInt = Field(1, alias="NEXT_AD_MAX_AGE_S", le=60)
    # Presigned frame upload URLs expire after this many seconds.
    upload_url_expires_s: PositiveInt = Field(120, alias="UPLOAD_URL_EXPIRES_S", le=300)
    # "The audience in front of a display" = faces its cameras saw in this many seconds.
    audience_window_s: PositiveInt = Field(10, alias="AUDIENCE_WINDOW_S")
    observations_page_limit: PositiveInt = Field(100, alias="OBSERVATIONS_PAGE_LIMIT", le=1000)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> AdServerSettings:
        """Read the settings; a missing or malformed variable raises pydantic's ValidationError."""
        return cls.model_validate(dict(os.environ if environ is None else environ))
