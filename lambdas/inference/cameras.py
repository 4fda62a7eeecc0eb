"""Which cameras may send frames: the registry table is the source of truth.

The ad server's registry (adserver/registry.py) keeps one item per store, ``pk`` =
"store#{store}", whose ``cameras`` set lists its cameras as "{store}/{camera}". The
inference image ships without the ad server, so the one read it needs is made here. Answers
are cached per container for a short while: a camera registered a minute ago is accepted
within ``ttl_s``, and a busy camera costs one read per ``ttl_s``, not one per frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from lambdas.frame_keys import FrameKey

# Store names come from object keys: bound the cache so odd keys cannot grow it without end.
MAX_CACHED_STORES = 1024


class CameraRegistry(Protocol):
    def unregistered_reason(self, frame: FrameKey) -> str | None:
        """Why the frame's store or camera may not send frames; None when it may."""
        ...


class RegisteredCameras:
    """Store items of the registry table, each cached for ``ttl_s`` seconds."""

    def __init__(
        self,
        table: Any,
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``table`` is a boto3 ``dynamodb.Table`` resource for the registry table."""
        self._table = table
        self._ttl_s = ttl_s
        self._clock = clock
        self._cached: dict[str, tuple[float, frozenset[str] | None]] = {}
        self._lock = threading.Lock()

    def unregistered_reason(self, frame: FrameKey) -> str | None:
        cameras = self._store_cameras(frame.store)
        if cameras is None:
            return f"store {frame.store!r} is not in the registry"
        if frame.camera_key not in cameras:
            return f"camera {frame.camera!r} is not registered to store {frame.store!r}"
        return None

    def _store_cameras(self, store: str) -> frozenset[str] | None:
        now = self._clock()
        with self._lock:
            cached = self._cached.get(store)
        if cached is not None and cached[0] > now:
            return cached[1]
        # A transient read error propagates, so the job is retried rather than rejected.
        item = self._table.get_item(Key={"pk": f"store#{store}"}, ConsistentRead=True).get("Item")
        cameras = None if item is None else frozenset(str(c) for c in item.get("cameras", ()))
        with self._lock:
            if len(self._cached) >= MAX_CACHED_STORES:
                self._cached.clear()
            self._cached[store] = (now + self._ttl_s, cameras)
        return cameras
