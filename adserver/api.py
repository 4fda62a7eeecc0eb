"""The ad server's HTTP API: one Powertools resolver for the Lambda and the local server.

``create_app`` takes everything the routes touch (stores, registry, clock, settings) so tests
and the local stack inject their own; more routes join through ``extra_routes``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError

from adserver.auth import authenticate, require_display, require_operator
from adserver.next_ad import NextAdPolicy, interim_next_ad
from adserver.registry import Principal, Registry
from adserver.settings import AdServerSettings
from lambdas.observations import Observation, ObservationReader


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class AdServerDependencies:
    """What the routes talk to; production values are built in adserver/handler.py."""

    settings: AdServerSettings
    observations: ObservationReader
    registry: Registry
    clock_ms: Callable[[], int] = _now_ms
    next_ad: NextAdPolicy = interim_next_ad


RouteFactory = Callable[[AdServerDependencies], Router]


def create_app(
    deps: AdServerDependencies, extra_routes: Sequence[RouteFactory] = ()
) -> APIGatewayHttpResolver:
    """The resolver with the observations and next-ad routes, plus any ``extra_routes``."""
    app = APIGatewayHttpResolver()
    for routes in (observation_routes, display_routes, *extra_routes):
        app.include_router(routes(deps))
    return app


def caller(router: Router, deps: AdServerDependencies) -> Principal:
    """The authenticated principal of the request being handled (401 if none)."""
    return authenticate(router.current_event.headers or {}, deps.registry)


def observation_routes(deps: AdServerDependencies) -> Router:
    router = Router()

    @router.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    @router.get("/v1/stores/<store>/cameras/<camera>/observations")
    def list_observations(store: str, camera: str) -> dict[str, Any]:
        require_operator(caller(router, deps))
        since_ms = _int_query(router, "since_ms", default=0, minimum=0)
        limit = _int_query(
            router,
            "limit",
            default=deps.settings.observations_page_limit,
            minimum=1,
            maximum=deps.settings.observations_page_limit,
        )
        page = deps.observations.query(store, camera, since_ms=since_ms, limit=limit)
        return {"observations": [observation.to_dict() for observation in page]}

    return router


def display_routes(deps: AdServerDependencies) -> Router:
    router = Router()

    @router.get("/v1/displays/<display_id>/next-ad")
    def next_ad(display_id: str) -> dict[str, Any]:
        require_display(caller(router, deps), display_id)
        display = deps.registry.display(display_id)
        if display is None:
            raise NotFoundError(f"unknown display {display_id}")
        window_s = deps.settings.audience_window_s
        return deps.next_ad(display, recent_observations(deps, display.cameras, window_s), window_s)

    return router


def recent_observations(
    deps: AdServerDependencies, cameras: Sequence[str], window_s: int
) -> list[Observation]:
    """Observations captured by these "{store}/{camera}" cameras in the last ``window_s``."""
    since_ms = deps.clock_ms() - window_s * 1000
    recent: list[Observation] = []
    for camera_key in cameras:
        store, _, camera = camera_key.partition("/")
        recent.extend(deps.observations.query(store, camera, since_ms=since_ms, limit=1000))
    return recent


def _int_query(
    router: Router, name: str, *, default: int, minimum: int, maximum: int | None = None
) -> int:
    raw = router.current_event.get_query_string_value(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise BadRequestError(f"{name} must be {bounds}, got {value}")
    return value
