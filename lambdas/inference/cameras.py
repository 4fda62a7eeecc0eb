"""Which cameras may send frames: the registry table is the source of truth.

The ad server's registry (adserver/registry.py) keeps one item per store, ``pk`` =
"store#{store}", whose ``cameras`` set lists its cameras as "{store}/{camera}". The
inference image ships without the ad server, so the one read it needs is made here. Answers
are cached per container for a short while: a camera registered a minute ago is accepted
within ``ttl_s``, and a busy camera costs one read per ``ttl_s``, not one per frame.

The same item may hold a ``min_face_px`` map, camera name -> the smallest face (pixels wide)
that camera must find: a camera close to its audience sets a larger one and costs less per
frame; a camera without an entry uses the predictor's default profile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lambdas.frame_keys import FrameKey

# Store names come from object keys: bound the cache so odd keys cannot grow it without end.
MAX_CACHED_STORES = 1024


class CameraRegistry(Protocol):
    def unregistered_reason(self, frame: FrameKey) -> str | None:
        """Why the frame's store or camera may not send frames; None when it may."""
        ...

    def min_face_px(self, frame: FrameKey) -> float | None:
        """The frame's camera's smallest face to find; None for the predictor's default."""
        ...


@dataclass(frozen=True)
class _Store:
    cameras: frozenset[str]
    min_face_px: dict[str, float] = field(default_factory=dict)


def _store_from_item(item: dict[str, Any]) -> _Store:
    settings = item.get("min_face_px") or {}
    min_face_px = {}
    for camera, value in settings.items():
        try:
            px = float(value)
        except (TypeError, ValueError):
            continue  # a malformed setting falls back to the default, never fails frames
        if px > 0:
            min_face_px[str(camera)] = px
    return _Store(frozenset(str(c) for c in item.get("cameras", ())), min_face_px)


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
        self._cached: dict[str, tuple[float, _Store | None]] = {}
        self._lock = threading.Lock()

    def unregistered_reason(self, frame: FrameKey) -> str | None:
        store = self._store(frame.store)
        if store is None:
            return f"store {frame.store!r} is not in the registry"
        if frame.camera_key not in store.cameras:
            return f"camera {frame.camera!r} is not registered to store {frame.store!r}"
        return None

    def min_face_px(self, frame: FrameKey) -> float | None:
        store = self._store(frame.store)
        return None if store is None else store.min_face_px.get(frame.camera)

    def _store(self, store: str) -> _Store | None:
        now = self._clock()
        with self._lock:
            cached = self._cached.get(store)
        if cached is not None and cached[0] > now:
            return cached[1]
        # A transient read error propagates, so the job is retried rather than rejected.
        item = self._table.get_item(Key={"pk": f"store#{store}"}, ConsistentRead=True).get("Item")
        found = None if item is None else _store_from_item(item)
        with self._lock:
            if len(self._cached) >= MAX_CACHED_STORES:
                self._cached.clear()
            self._cached[store] = (now + self._ttl_s, found)
        return found
