"""The ad server on a localhost port, served the way the local stack serves it.

The same resolver as the Lambda, behind adserver.local_server's HTTP-to-event
adapter, with in-memory stores and a seed registry so tests can add observations
and read impressions directly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from adserver.api import AdServerDependencies, create_app
from adserver.catalog import seed_catalog
from adserver.impressions import InMemoryImpressionStore
from adserver.local_server import make_request_handler
from adserver.registry import Display, InMemoryRegistry, Principal
from adserver.rollups import InMemoryRollups
from adserver.settings import AdServerSettings
from lambdas.frame_keys import FrameKey
from lambdas.observations import InMemoryObservationStore, ok_observation
from lambdas.tracker.store import InMemoryTrackStore

TOKENS = {
    "operator": "operator-token",
    "demo-display-1": "display-1-token",
    "north-display-1": "display-2-token",
    "demo-store/demo-cam-1": "camera-1-token",
}


@dataclass
class LiveServer:
    url: str
    observations: InMemoryObservationStore
    impressions: InMemoryImpressionStore
    rollups: InMemoryRollups  # what reports and the dashboard read
    tracks: InMemoryTrackStore  # the tracker's open tracks: who is in view now

    def see(self, captured_at_ms: int, *faces: dict[str, Any]) -> None:
        """Record what demo-cam-1 saw, as the inference function would."""
        frame = FrameKey("demo-store", "demo-cam-1", captured_at_ms)
        self.observations.put(
            ok_observation(frame, faces, processed_at_ms=captured_at_ms, model_version="test")
        )


def seed_registry() -> InMemoryRegistry:
    registry = InMemoryRegistry()
    registry.add_token(TOKENS["operator"], Principal("operator", "ops"))
    for display in (
        Display("demo-display-1", "demo-store", ("demo-store/demo-cam-1",)),
        Display("north-display-1", "north-store", ("north-store/north-cam-1",)),
    ):
        registry.add_display(display)
        registry.add_token(
            TOKENS[display.display_id], Principal("display", display.display_id, display.store)
        )
    registry.add_token(
        TOKENS["demo-store/demo-cam-1"], Principal("camera", "demo-store/demo-cam-1", "demo-store")
    )
    return registry


@contextmanager
def live_server(frames_signer: Any = None, frames_bucket: str = "frames") -> Iterator[LiveServer]:
    observations = InMemoryObservationStore()
    rollups = InMemoryRollups()
    impressions = InMemoryImpressionStore(rollups)
    tracks = InMemoryTrackStore()
    deps = AdServerDependencies(
        settings=AdServerSettings(
            OBSERVATIONS_TABLE="obs", REGISTRY_TABLE="reg", FRAMES_BUCKET=frames_bucket
        ),
        observations=observations,
        registry=seed_registry(),
        catalog=seed_catalog,
        impressions=impressions,
        rollups=rollups,
        presence=tracks,
        frames_signer=frames_signer,
    )
    app = create_app(deps)
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0),
        make_request_handler(lambda event, context: app.resolve(event, context), 10),
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        yield LiveServer(url, observations, impressions, rollups, tracks)
    finally:
        server.shutdown()
        server.server_close()
