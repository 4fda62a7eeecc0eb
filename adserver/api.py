"""The ad server's HTTP API: one Powertools resolver for the Lambda and the local server.

``create_app`` takes everything the routes touch (stores, registry, catalog, clock, settings)
so tests and the local stack inject their own; more routes join through ``extra_routes``.
Each route checks the caller, hands the request to a domain function and formats the answer.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
    ServiceError,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from adserver import api_document as doc
from adserver.auth import (
    authenticate,
    require_camera,
    require_display,
    require_display_itself,
    require_operator,
)
from adserver.catalog import Catalog, seed_catalog
from adserver.decisions import decide_next_ad
from adserver.impressions import (
    ImpressionRejected,
    ImpressionRequest,
    ImpressionStore,
    InMemoryImpressionStore,
    record_play,
)
from adserver.index_page import index_html
from adserver.pages import docs_routes, html_page
from adserver.play_audience import PresenceReader, audience_counter
from adserver.present_now import RECENT_S, store_now
from adserver.registry import Display, Principal, Registry
from adserver.report_chart import render_svg
from adserver.reports import ReportRangeError, build_report, report_range, store_midnight_ms
from adserver.rollups import InMemoryRollups, RollupReader
from adserver.settings import AdServerSettings
from adserver.tickets import TICKET_VALIDITY_MS
from adserver.uploads import UploadRefused, frame_upload_url
from lambdas.frame_keys import is_valid_id
from lambdas.observations import MAX_PAGE_LIMIT, Observation, ObservationReader

PACKAGE_DIR = Path(__file__).parent
CREATIVE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\.svg$")
SCRIPT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,40}\.js$")
# Query integers are ASCII digits only: int() would also read "١٢", " 12" or "1_2".
ASCII_INTEGER = re.compile(r"^[0-9]{1,18}$", re.ASCII)
QUERY_INTEGER = "^[0-9]{0,18}$"  # as the document says it: an empty value means the default
# Epoch milliseconds the API accepts; DynamoDB numbers and Python dates end long after.
MAX_EPOCH_MS = 10**13 - 1  # year 2286
# Request bodies are small JSON objects; a larger one is refused before it is parsed.
MAX_JSON_BODY_BYTES = 16 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class AdServerDependencies:
    """What the routes talk to; production values are built in adserver/handler.py."""

    settings: AdServerSettings
    observations: ObservationReader
    registry: Registry
    clock_ms: Callable[[], int] = _now_ms
    # The ad catalog as of now (S3CatalogSource.get in production).
    catalog: Callable[[], Catalog] = seed_catalog
    impressions: ImpressionStore = field(default_factory=InMemoryImpressionStore)
    # The hourly rollups that reports read (the impressions store adds plays to them).
    rollups: RollupReader = field(default_factory=InMemoryRollups)
    # The tracker's tracks, for the people present during each play (None: not counted).
    presence: PresenceReader | None = None
    # The S3 client that presigns frame uploads (adserver.uploads.signing_client).
    frames_signer: Any = None


RouteFactory = Callable[[AdServerDependencies], Router]


def create_app(
    deps: AdServerDependencies, extra_routes: Sequence[RouteFactory] = ()
) -> APIGatewayHttpResolver:
    """The resolver with every route of the API, plus any ``extra_routes``; Powertools
    checks each request against its route's signature and writes the OpenAPI document."""
    app = APIGatewayHttpResolver(enable_validation=True)
    defaults: tuple[RouteFactory, ...] = (
        observation_routes,
        display_routes,
        store_routes,
        camera_routes,
        page_routes,
        docs_routes,
    )
    for routes in (*defaults, *extra_routes):
        app.include_router(routes(deps))
    doc.describe(app)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        # Powertools' 422, with the `message` every refusal of this API carries.
        first = error.errors()[0]
        body = {
            "statusCode": 422,
            "message": f"{first['loc'][-1]}: {first['msg']}",
            "detail": [{"loc": e["loc"], "type": e["type"]} for e in error.errors()],
        }
        return Response(422, content_types.APPLICATION_JSON, json.dumps(body))

    @app.get(
        "/openapi.json",
        summary="This API's OpenAPI document, generated from its routes.",
        tags=["pages"],
        responses=doc.answers(200, "OpenAPI 3.1 document.", other={"application/json": {}}),
    )
    def openapi() -> Response[str]:
        return Response(200, content_types.APPLICATION_JSON, doc.document(app))

    return app


def caller(router: Router, deps: AdServerDependencies) -> Principal:
    """The authenticated principal of the request being handled (401 if none)."""
    return authenticate(router.current_event.headers or {}, deps.registry)


def observation_routes(deps: AdServerDependencies) -> Router:
    router = Router()

    @router.get(
        "/health",
        summary="Liveness: the function answers.",
        tags=["pages"],
        responses=doc.answers(200, "Alive.", doc.Health),
    )
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    @router.get(
        "/v1/stores/<store>/cameras/<camera>/observations",
        summary="A camera's observations since a time, oldest first.",
        tags=["operators"],
        security=doc.OPERATOR_TOKEN,
        responses={
            **doc.answers(200, "The observations.", doc.ObservationPage),
            **doc.refusals(400, 401, 403, 404),
        },
    )
    def list_observations(
        store: doc.StoreId,
        camera: doc.CameraId,
        since_ms: Annotated[
            str,
            Query(
                description="Epoch milliseconds (ASCII digits); observations captured after it.",
                json_schema_extra={"pattern": QUERY_INTEGER},
            ),
        ] = "",
        limit: Annotated[
            str,
            Query(
                description="The most observations to return (ASCII digits), at most the "
                "server's page limit.",
                json_schema_extra={"pattern": QUERY_INTEGER},
            ),
        ] = "",
    ) -> dict[str, Any]:
        require_operator(caller(router, deps))
        known_ids(store=store, camera=camera)
        since = _int_query("since_ms", since_ms, default=0, minimum=0, maximum=MAX_EPOCH_MS)
        page_limit = deps.settings.observations_page_limit
        most = _int_query("limit", limit, default=page_limit, minimum=1, maximum=page_limit)
        page = deps.observations.query(store, camera, since_ms=since, limit=most)
        return {"observations": [observation.to_dict() for observation in page]}

    return router


def display_routes(deps: AdServerDependencies) -> Router:
    router = Router()

    def own_display(display_id: str) -> Display:
        require_display(caller(router, deps), display_id)
        known_ids(display=display_id)
        display = deps.registry.display(display_id)
        if display is None:
            raise NotFoundError(f"unknown display {display_id}")
        return display

    @router.get(
        "/v1/displays/<display_id>/next-ad",
        summary="The ad this display should show next, chosen for its current audience.",
        description="Poll it as `Cache-Control` says; send the last `ETag` in `If-None-Match` "
        "and an unchanged decision is a bodiless 304.",
        tags=["displays"],
        security=doc.DISPLAY_TOKEN,
        responses={
            **doc.answers(200, "The next ad.", doc.NextAd),
            304: {"description": "Unchanged since the ETag given in If-None-Match."},
            **doc.refusals(401, 403, 404),
        },
    )
    def next_ad(
        display_id: doc.DisplayId,
        if_none_match: Annotated[
            str | None,
            Header(alias="If-None-Match", description="The ETag of the last answer."),
        ] = None,
    ) -> Response[str]:
        display = own_display(display_id)
        now_ms = deps.clock_ms()
        window_s = deps.settings.audience_window_s
        recent = camera_observations(deps, display.cameras, now_ms - window_s * 1000 - 1)
        answer = decide_next_ad(
            display.display_id,
            display.store,
            [observation.to_dict() for observation in recent],
            deps.impressions,
            deps.catalog(),
            now_ms,
            window_s,
        )
        headers = {
            "ETag": answer.etag,
            "Cache-Control": f"private, max-age={deps.settings.next_ad_max_age_s}",
        }
        if etag_matches(if_none_match, answer.etag):
            return Response(304, headers=headers, body="")
        deps.impressions.issue_ticket(answer.ticket)  # before the body that names it
        return Response(200, content_types.APPLICATION_JSON, json.dumps(answer.body), headers)

    @router.post(
        "/v1/displays/<display_id>/impressions",
        summary="Proof of play, sent by the player after it showed a creative.",
        description="Only the display's own token, with the `ticket` of the next-ad answer it "
        f"played, unused and at most {TICKET_VALIDITY_MS // 3_600_000} hours old. The ad and "
        "audience bucket are the ticket's; the play lasts at most the creative's length and "
        "overlaps none of the display's other plays (409). Sending the same body again gets "
        "the same answer and changes nothing; another body with a used ticket is a 409.",
        tags=["displays"],
        security=doc.DISPLAY_TOKEN,
        openapi_extensions=doc.json_body(ImpressionRequest, required=True),
        responses={
            **doc.answers(201, "Recorded (or the same request again).", doc.ImpressionRecorded),
            **doc.refusals(400, 401, 403, 404, 409),
        },
    )
    def record_impression(display_id: doc.DisplayId) -> Response[str]:
        require_display_itself(caller(router, deps), display_id)
        display = own_display(display_id)
        try:
            answer = record_play(
                json_body(router),
                display.store,
                display.display_id,
                deps.catalog(),
                deps.impressions,
                deps.clock_ms(),
                audience_counter(deps.presence, display.cameras),
            )
        except ImpressionRejected as rejected:
            raise ServiceError(rejected.status, rejected.reason) from None
        return Response(201, content_types.APPLICATION_JSON, answer)

    return router


def store_routes(deps: AdServerDependencies) -> Router:
    router = Router()

    @router.get(
        "/v1/stores/<store>/report",
        summary="People, watchers and impressions per hour and bucket, as JSON or SVG.",
        description="Read from the hourly rollups; cells of fewer people than the"
        " server's minimum (REPORT_MIN_CELL_COUNT, default 5) are left out.",
        tags=["operators"],
        security=doc.OPERATOR_TOKEN,
        responses={
            **doc.answers(
                200, "The report.", doc.Report, other={"image/svg+xml": {"type": "string"}}
            ),
            **doc.refusals(400, 401, 403, 404),
        },
    )
    def report(
        store: doc.StoreId,
        from_: Annotated[
            str,
            Query(
                alias="from",
                description="Start (inclusive): ISO 8601 with a zone, or epoch milliseconds in "
                "ASCII digits; between 1970 and 9999.",
                examples=["2024-06-07T00:00:00Z"],
            ),
        ],
        to: Annotated[
            str,
            Query(
                description="End (exclusive), at most 31 days after `from`.",
                examples=["2024-06-08T00:00:00Z"],
            ),
        ],
        format_: Annotated[
            str,
            Query(
                alias="format",
                description="json or svg.",
                json_schema_extra={"enum": ["json", "svg"]},
            ),
        ] = "json",
    ) -> Response[Any]:
        require_operator(caller(router, deps))
        output = format_ or "json"
        if output not in ("json", "svg"):
            raise BadRequestError(f"format: must be json or svg, got {output!r}")
        try:
            from_ms, to_ms = report_range(from_, to)
        except ReportRangeError as refused:
            raise BadRequestError(refused.reason) from None
        known_store(deps, store)
        document = build_report(
            store,
            from_ms,
            to_ms,
            deps.rollups.hours(store, from_ms, to_ms),
            deps.catalog().store(store).time_zone,
            deps.settings.report_min_cell_count,
        )
        if output == "svg":
            return Response(200, "image/svg+xml", render_svg(document))
        return Response(200, content_types.APPLICATION_JSON, json.dumps(document))

    @router.get(
        "/v1/stores/<store>/now",
        summary="Who is in front of each display right now, and how many have left today.",
        description="In view: the tracker's open tracks of each display's cameras, seen in the"
        " last `recent_s` seconds. Left: the people counted since the store's midnight. The"
        " dashboard asks every few seconds.",
        tags=["operators"],
        security=doc.OPERATOR_TOKEN,
        responses={
            **doc.answers(200, "Who is in view.", doc.StoreNow),
            **doc.refusals(401, 403, 404),
        },
    )
    def now(store: doc.StoreId) -> Response[str]:
        require_operator(caller(router, deps))
        known_ids(store=store)
        cameras = deps.registry.store_cameras(store)
        if cameras is None:
            raise NotFoundError(f"unknown store {store}")
        now_ms = deps.clock_ms()
        time_zone = deps.catalog().store(store).time_zone
        midnight_ms = store_midnight_ms(now_ms, time_zone)
        today = build_report(
            store, midnight_ms, now_ms + 1, deps.rollups.hours(store, midnight_ms, now_ms + 1)
        )
        in_view: dict[str, Any] = {"displays": {}, "cameras": {}}
        if deps.presence is not None:
            in_view = store_now(deps.presence, deps.registry.store_displays(store), cameras, now_ms)
        body = {
            "store": store,
            "at": datetime.fromtimestamp(now_ms / 1000, UTC).isoformat().replace("+00:00", "Z"),
            "time_zone": time_zone,
            "recent_s": RECENT_S,
            "tracking": deps.presence is not None,
            **in_view,
            "left_today": today["totals"]["people"],
        }
        return Response(200, content_types.APPLICATION_JSON, json.dumps(body), NO_STORE)

    return router


def camera_routes(deps: AdServerDependencies) -> Router:
    router = Router()

    @router.post(
        "/v1/stores/<store>/cameras/<camera>/upload-url",
        summary="A presigned POST policy for one frame, under frames/{store}/{camera}/ only.",
        description="POST `url` as multipart/form-data with every entry of `fields`, then the "
        "JPEG as the last part, named `file`. S3 refuses another key, another content type, an "
        "empty body or one over `max_bytes`, and any upload after `expires_in` seconds. The "
        "local stack's moto server checks none of this.",
        tags=["cameras"],
        security=doc.CAMERA_TOKEN,
        openapi_extensions=doc.json_body(doc.UploadRequest, required=False),
        responses={
            **doc.answers(200, "Where to POST the JPEG.", doc.UploadUrl),
            **doc.refusals(400, 401, 403, 404),
        },
    )
    def upload_url(store: doc.StoreId, camera: doc.CameraId) -> dict[str, Any]:
        require_camera(caller(router, deps), store, camera)
        if f"{store}/{camera}" not in (deps.registry.store_cameras(store) or ()):
            raise NotFoundError(f"unknown camera {store}/{camera}")
        body = json_body(router, required=False) or {}
        if not isinstance(body, dict) or set(body) - {"captured_at_ms"}:
            raise BadRequestError('body: only {"captured_at_ms": <epoch ms>} is accepted')
        if deps.frames_signer is None:
            raise NotFoundError("frame uploads are not configured on this server")
        try:
            return frame_upload_url(
                deps.frames_signer,
                deps.settings.frames_bucket,
                store,
                camera,
                body.get("captured_at_ms"),
                deps.clock_ms(),
                deps.settings.upload_url_expires_s,
            )
        except UploadRefused as refused:
            raise BadRequestError(refused.reason) from None

    return router


def page_routes(deps: AdServerDependencies) -> Router:
    """The player and dashboard pages, their scripts and the shipped creatives (create_app
    adds the API's description)."""
    router = Router()

    @router.get(
        "/display/<display_id>",
        summary="The HTML player; open it as /display/{id}#token=DISPLAY_TOKEN.",
        tags=["pages"],
        responses={
            **doc.answers(200, "The player page.", other={"text/html": {"type": "string"}}),
            **doc.refusals(404),
        },
    )
    def player_page(display_id: doc.DisplayId) -> Response[str]:
        known_ids(display=display_id)
        if deps.registry.display(display_id) is None:
            raise NotFoundError(f"unknown display {display_id}")
        return html_page(package_text("player.html"), remote_media=True)  # catalog creatives

    @router.get(
        "/stores/<store>/dashboard",
        summary="The store's HTML dashboard; open it with #token=OPERATOR_TOKEN.",
        description="Its figures come from the report API, which the page calls with the token"
        " from the URL fragment; charts are drawn by /static/dashboard.js.",
        tags=["pages"],
        responses={
            **doc.answers(200, "The dashboard page.", other={"text/html": {"type": "string"}}),
            **doc.refusals(404),
        },
    )
    def dashboard_page(store: doc.StoreId) -> Response[str]:
        known_store(deps, store)
        return html_page(package_text("dashboard.html"))

    @router.get(
        "/",
        summary="The front page: links to the players, the dashboards and /docs.",
        tags=["pages"],
        responses=doc.answers(200, "The front page.", other={"text/html": {"type": "string"}}),
    )
    def index_page() -> Response[str]:
        return html_page(index_html())

    @router.get(
        "/stores/<store>/report",
        summary="The store report as one chart; open it with #token=OPERATOR_TOKEN&from=&to=.",
        description="The page reads the report API's SVG with the token from the URL fragment,"
        " so a link opens it in any browser; /static/report.js does the reading.",
        tags=["pages"],
        responses={
            **doc.answers(200, "The chart page.", other={"text/html": {"type": "string"}}),
            **doc.refusals(404),
        },
    )
    def report_page(store: doc.StoreId) -> Response[str]:
        known_store(deps, store)
        return html_page(package_text("report.html"))

    @router.get(
        "/static/<script>",
        summary="The pages' scripts (dashboard.js, report.js): served here, no CDN.",
        tags=["pages"],
        responses={
            **doc.answers(200, "The script.", other={"text/javascript": {"type": "string"}}),
            **doc.refusals(404),
        },
    )
    def page_script(script: doc.ScriptName) -> Response[str]:
        if not SCRIPT_NAME.match(script) or not (PACKAGE_DIR / "static" / script).is_file():
            raise NotFoundError(f"no script {script[:80]!r}")
        text = package_text(f"static/{script}")
        return Response(200, "text/javascript; charset=utf-8", text, {"Cache-Control": "no-cache"})

    @router.get(
        "/static/creatives/<name>",
        summary="A creative shipped with the ad server (the seed catalog's images).",
        tags=["pages"],
        responses={
            **doc.answers(200, "The creative.", other={"image/svg+xml": {"type": "string"}}),
            **doc.refusals(404),
        },
    )
    def creative(name: doc.CreativeName) -> Response[str]:
        path = PACKAGE_DIR / "static" / "creatives" / name
        if not CREATIVE_NAME.match(name) or not path.is_file():
            raise NotFoundError(f"no creative {name}")
        cache_control = {"Cache-Control": "public, max-age=3600"}
        return Response(
            200, "image/svg+xml", package_text(f"static/creatives/{name}"), cache_control
        )

    return router


@cache
def package_text(relative: str) -> str:
    """A text file shipped in the adserver package, read once per process."""
    return (PACKAGE_DIR / relative).read_text(encoding="utf-8")


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names ``etag`` (weak or strong) or is ``*``."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def known_ids(**ids: str) -> None:
    """404 for a store, camera or display id that no registry entry can have.

    Ids are ASCII letters, digits, '-' and '_' (at most 64); anything else is not looked
    up, so it never reaches DynamoDB, which refuses keys over 2 KB with an error of its own.
    """
    for kind, value in ids.items():
        if not is_valid_id(value):
            raise NotFoundError(f"unknown {kind} {value[:80]!r}")


def known_store(deps: AdServerDependencies, store: str) -> None:
    """404 for a store id that is malformed or not in the registry."""
    known_ids(store=store)
    if deps.registry.store_cameras(store) is None:
        raise NotFoundError(f"unknown store {store}")


def json_body(router: Router, required: bool = True) -> Any:
    """The request's JSON body; 400 when it is not JSON (or missing and required)."""
    try:
        raw = router.current_event.decoded_body  # decoding may meet bytes that are not UTF-8
        if not raw:
            if required:
                raise BadRequestError("body: a JSON object is required")
            return None
        if len(raw) > MAX_JSON_BODY_BYTES:
            raise BadRequestError(f"body: larger than {MAX_JSON_BODY_BYTES} bytes")
        return json.loads(raw, parse_constant=_refuse_constant)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise BadRequestError("body: not valid JSON") from None
    except RecursionError:  # e.g. a hundred thousand "[": deeper than any body we take
        raise BadRequestError("body: JSON nested too deeply") from None


def _refuse_constant(name: str) -> Any:
    # json.loads reads NaN and Infinity, which are not JSON and no field can hold.
    raise ValueError(f"{name} is not JSON")


def camera_observations(
    deps: AdServerDependencies,
    cameras: Sequence[str],
    after_ms: int,
    before_ms: int | None = None,
    per_camera: int = MAX_PAGE_LIMIT,
) -> list[Observation]:
    """Observations of these "{store}/{camera}" cameras captured in (after_ms, before_ms)."""
    found: list[Observation] = []
    for camera_key in cameras:
        store, _, camera = camera_key.partition("/")
        since_ms, taken = after_ms, 0
        while taken < per_camera:
            page = deps.observations.query(store, camera, since_ms=since_ms, limit=MAX_PAGE_LIMIT)
            page = [o for o in page if before_ms is None or o.captured_at_ms < before_ms]
            found += page[: per_camera - taken]
            taken += len(page)
            if len(page) < MAX_PAGE_LIMIT:
                break
            since_ms = page[-1].captured_at_ms
    return found


def _int_query(
    name: str, raw: str | None, *, default: int, minimum: int, maximum: int | None = None
) -> int:
    if raw is None or raw == "":
        return default
    if not ASCII_INTEGER.match(raw):
        shown = raw if len(raw) <= 40 else f"{raw[:40]}..."
        raise BadRequestError(f"{name} must be an integer of ASCII digits, got {shown!r}")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise BadRequestError(f"{name} must be {bounds}, got {value}")
    return value
