"""The local ad server under concurrent callers: every request is served on its own state."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import ThreadingHTTPServer

from adserver.api import AdServerDependencies, create_app
from adserver.catalog import seed_catalog
from adserver.impressions import InMemoryImpressionStore
from adserver.local_server import make_request_handler
from adserver.registry import Display, InMemoryRegistry
from adserver.settings import AdServerSettings
from adserver.tickets import PlayTicket
from lambdas.observations import InMemoryObservationStore
from tests.adserver.live_server import TOKENS, seed_registry


class SlowRegistry(InMemoryRegistry):
    """A registry whose lookups take as long as a DynamoDB GetItem, so requests overlap."""

    def display(self, display_id: str) -> Display | None:
        time.sleep(0.005)
        return super().display(display_id)


@contextmanager
def slow_server(impressions: InMemoryImpressionStore) -> Iterator[str]:
    registry = SlowRegistry()
    seeded = seed_registry()
    registry.principals, registry.displays = seeded.principals, seeded.displays
    deps = AdServerDependencies(
        settings=AdServerSettings(
            OBSERVATIONS_TABLE="obs", REGISTRY_TABLE="reg", FRAMES_BUCKET="frames"
        ),
        observations=InMemoryObservationStore(),
        registry=registry,
        catalog=seed_catalog,
        impressions=impressions,
    )
    app = create_app(deps)
    handler = make_request_handler(lambda event, context: app.resolve(event, context), 10)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def send(url: str, path: str, body: dict[str, object] | None = None) -> int:
    request = urllib.request.Request(
        f"{url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={
            "Authorization": f"Bearer {TOKENS['demo-display-1']}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_40_concurrent_impressions_from_4_threads_are_all_accepted() -> None:
    # GIVEN the local server, 40 distinct plays with the tickets next-ad issued for them
    # (kept straight in the store: next-ad hands out one per decision) and a player polling
    # next-ad meanwhile
    now_ms = int(time.time() * 1000)
    impressions = InMemoryImpressionStore()
    path = "/v1/displays/demo-display-1"
    tickets = [
        PlayTicket(f"{i:032x}", "demo-store", "demo-display-1", "house-welcome", "none", now_ms)
        for i in range(40)
    ]
    for ticket in tickets:
        impressions.issue_ticket(ticket)

    def impression(i: int) -> int:
        body = {
            "ticket": tickets[i].id,
            "ad_id": "house-welcome",
            "started_at_ms": now_ms - 290_000 + i * 6000,
            "duration_s": 5.0,
        }
        return send(url, f"{path}/impressions", body)

    with slow_server(impressions) as url:
        # WHEN 4 threads post them at once, while a fifth polls
        with ThreadPoolExecutor(max_workers=5) as pool:
            polls = [pool.submit(send, url, f"{path}/next-ad") for _ in range(10)]
            statuses = list(pool.map(impression, range(40)))
        # THEN every one is accepted and recorded, and every poll was answered
        assert statuses == [201] * 40
        assert [poll.result() for poll in polls] == [200] * 10
    assert len(impressions.for_store("demo-store", 0, 10**13)) == 40
