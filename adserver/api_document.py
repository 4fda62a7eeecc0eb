"""What the ad server's OpenAPI document says beyond the route signatures themselves.

Powertools writes the document from the routes (paths, path and query parameters, the
metadata given to each route decorator); this module holds what the decorators refer to:
the pydantic models of the JSON bodies, the bearer-token schemes, the refusals a route can
answer, and the document's title. The document is served at ``/openapi.json`` and as an
interactive page at ``/docs`` (Swagger UI from the Powertools package, no CDN; served by
``adserver.pages``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Tag
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field

from adserver.catalog import ALL_BUCKETS, NO_AUDIENCE
from adserver.tickets import TICKET_ID

TITLE = "Smart displays ad server"
VERSION = "1.0"
DESCRIPTION = """\
Turns the recent audience in front of an in-store display into the next ad, records proof
of play, reports per store, and hands cameras presigned upload URLs. Every /v1 route takes
`Authorization: Bearer <token>`; which token depends on the route: a display token (its
own display only), a camera token (its own store and camera only) or the operator token.
"""
DOCS_PATH = "/docs"

DISPLAY_TOKEN: list[dict[str, list[str]]] = [{"displayToken": []}]
CAMERA_TOKEN: list[dict[str, list[str]]] = [{"cameraToken": []}]
OPERATOR_TOKEN: list[dict[str, list[str]]] = [{"operatorToken": []}]
SECURITY_SCHEMES = {
    "displayToken": HTTPBearer(description="A display's own token; it opens that display only."),
    "cameraToken": HTTPBearer(description="A camera's token; it opens its own upload-url only."),
    "operatorToken": HTTPBearer(description="The operator token, for reports and observations."),
}
TAGS = [
    Tag(name="displays", description="What a display player calls."),
    Tag(name="cameras", description="What a camera calls."),
    Tag(name="operators", description="Reports and raw observations for the store operator."),
    Tag(name="pages", description="The player page, creatives, this description."),
]

REFUSALS: dict[int, str] = {
    400: "The request is malformed; `message` names the field.",
    401: "No bearer token, or one we do not know.",
    403: "A valid token for another display, store or camera.",
    404: "No such display, store, camera or file.",
    409: "Conflicts with what is recorded: a used ticket with another body, or an overlap.",
}

# Path parameters with the demo's ids as examples, so a client generated from the document
# (or schemathesis) reaches past the 404 of an unknown id.
DisplayId = Annotated[str, Path(examples=["demo-display-1"])]
StoreId = Annotated[str, Path(examples=["demo-store"])]
CameraId = Annotated[str, Path(examples=["demo-cam-1"])]
CreativeName = Annotated[str, Path(examples=["senior-female.svg"])]
ScriptName = Annotated[str, Path(examples=["dashboard.js"])]

Bucket = Annotated[
    str,
    Field(
        description="An age band and gender, or `none` when nobody is in front of the display.",
        json_schema_extra={"enum": [NO_AUDIENCE, *ALL_BUCKETS]},
    ),
]


class Documented(BaseModel):
    """A response body as the routes write it; extra keys would be undocumented, so refused
    (the document tests validate real answers against these models)."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Documented):
    statusCode: int
    message: str


class Health(Documented):
    status: Literal["ok"]


class AudienceSummary(Documented):
    bucket: Bucket
    faces: Annotated[int, Field(ge=0, description="The most faces seen in one frame.")]
    window_s: float


class NextAd(Documented):
    ad_id: str
    creative_url: str
    duration_s: Annotated[float, Field(gt=0)]
    audience: AudienceSummary
    reason: Annotated[
        str, Field(description='Why this ad; starts with "default" for the default creative.')
    ]
    ticket: Annotated[
        str,
        Field(
            pattern=TICKET_ID.pattern,
            description="The play ticket of this decision: send it with the impression of one "
            "play of this ad, within 24 hours. The same decision polled again carries the same "
            "ticket; a recorded play makes the next answer carry a new one.",
        ),
    ]


class ImpressionRecorded(Documented):
    store: str
    display: str
    ad_id: str
    campaign_id: str | None
    bucket: Bucket
    started_at_ms: int
    duration_s: float
    recorded_at_ms: int
    audience_people: Annotated[int, Field(ge=0, description="People present while it played.")]
    audience_watchers: Annotated[int, Field(ge=0, description="Watchers among them.")]
    ticket: Annotated[str | None, Field(description="The play ticket it was reported with.")]


class ReportTotals(BaseModel):
    """The range's figures; dwell and looking quantiles only when it holds enough people."""

    model_config = ConfigDict(extra="allow")

    people: Annotated[int, Field(ge=0, description="Tracks (opportunities to see).")]
    watchers: Annotated[int, Field(ge=0, description="People who looked for at least 1 s.")]
    impressions: Annotated[int, Field(ge=0)]


class Report(BaseModel):
    """The JSON report, read from the hourly rollups. Only its frame is pinned here
    (adserver/reports.py says what each breakdown holds)."""

    model_config = ConfigDict(extra="allow")

    store: str
    from_: Annotated[str, Field(alias="from")]
    to: str
    time_zone: str
    min_cell_count: Annotated[
        int, Field(ge=1, description="No hour, bucket or camera of fewer people is shown.")
    ]
    hours: Annotated[list[dict[str, Any]], Field(description="One entry per hour, store time.")]
    totals: ReportTotals


class InViewNow(Documented):
    present: Annotated[int, Field(ge=0, description="People in view now (open tracks).")]
    looking: Annotated[int, Field(ge=0, description="Of them, looking at the screen.")]


class DisplayNow(InViewNow):
    cameras: Annotated[list[str], Field(description='Its cameras, "{store}/{camera}".')]


class StoreNow(Documented):
    store: str
    at: Annotated[str, Field(description="The time of this answer, ISO 8601 in UTC.")]
    time_zone: str
    recent_s: Annotated[
        float, Field(description="A person last seen longer ago than this is leaving.")
    ]
    tracking: Annotated[bool, Field(description="False where the server reads no tracks.")]
    displays: dict[str, DisplayNow]
    cameras: dict[str, InViewNow]
    left_today: Annotated[
        int, Field(ge=0, description="People who have left since the store's midnight.")
    ]


class UploadRequest(Documented):
    captured_at_ms: Annotated[
        int | None, Field(ge=0, description="When the frame was taken; defaults to now.")
    ] = None


class UploadUrl(Documented):
    url: Annotated[str, Field(description="The bucket's S3 endpoint the form is posted to.")]
    key: str
    method: Literal["POST"]
    fields: Annotated[dict[str, str], Field(description="Form fields to send before the file.")]
    headers: dict[str, str]
    content_type: Literal["image/jpeg"]
    max_bytes: int
    expires_in: Annotated[int, Field(ge=1, le=300)]


class FaceSeen(Documented):
    box: Annotated[list[int], Field(min_length=4, max_length=4, description="x, y, w, h")]
    score: float
    age: float
    age_band: str
    gender: str
    gender_confidence: float
    yaw: float | None = None
    looking: bool | None = None


class ObservationRecord(Documented):
    store: str
    camera: str
    frame_key: str
    captured_at_ms: int
    processed_at_ms: int | None
    status: Literal["ok", "rejected"]
    error: str | None
    faces: list[FaceSeen]
    model_version: str | None


class ObservationPage(Documented):
    observations: list[ObservationRecord]


def answers(
    status: int,
    description: str,
    model: type[BaseModel] | None = None,
    other: dict[str, dict[str, Any]] | None = None,
) -> dict[int, OpenAPIResponse]:
    """One documented answer: a JSON ``model`` and/or ``other`` media types' schemas."""
    media: dict[str, Any] = {kind: {"schema": schema} for kind, schema in (other or {}).items()}
    if model is not None:
        media["application/json"] = {"model": model}
    return {status: {"description": description, "content": media}}


def refusals(*statuses: int) -> dict[int, OpenAPIResponse]:
    """The error answers a route can give, each with the ``ErrorBody`` shape."""
    return {
        status: {
            "description": REFUSALS[status],
            "content": {"application/json": {"model": ErrorBody}},
        }
        for status in statuses
    }


def json_body(model: type[BaseModel], *, required: bool) -> dict[str, Any]:
    """A route's request body for the document, for routes that parse and check their body
    themselves (their refusals name the field) rather than through Powertools' validation."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": schema}},
        }
    }


def describe(app: APIGatewayHttpResolver) -> None:
    """Give ``app``'s document its title, security schemes and tags (the interactive page at
    ``/docs`` is ``adserver.pages.docs_routes``)."""
    app.configure_openapi(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]
        tags=TAGS,  # type: ignore[arg-type]
    )


def document(app: APIGatewayHttpResolver) -> str:
    """The OpenAPI document of ``app`` as JSON text."""
    return app.get_openapi_json_schema()


def main() -> None:
    """Print the document of the API as the code declares it (no AWS needed)."""
    from adserver.api import AdServerDependencies, create_app
    from adserver.registry import InMemoryRegistry
    from adserver.settings import AdServerSettings
    from lambdas.observations import InMemoryObservationStore

    names = {"OBSERVATIONS_TABLE": "observations", "REGISTRY_TABLE": "registry"}
    settings = AdServerSettings.model_validate({**names, "FRAMES_BUCKET": "frames"})
    deps = AdServerDependencies(settings, InMemoryObservationStore(), InMemoryRegistry())
    print(document(create_app(deps)))


if __name__ == "__main__":
    main()
