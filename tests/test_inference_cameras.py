"""The registry read the inference function makes: which cameras may send frames, cached."""

from __future__ import annotations

from lambdas.frame_keys import FrameKey
from lambdas.inference.cameras import RegisteredCameras

FRAME = FrameKey("demo-store", "demo-cam-1", 1_700_000_000_000)


class CountingTable:
    """A registry table stand-in that counts its reads."""

    def __init__(self, items):
        self.items, self.reads = items, 0

    def get_item(self, Key, ConsistentRead=False):
        self.reads += 1
        item = self.items.get(Key["pk"])
        return {} if item is None else {"Item": item}


def test_a_registered_camera_may_send_and_others_are_named_in_the_reason():
    table = CountingTable({"store#demo-store": {"cameras": {"demo-store/demo-cam-1"}}})
    cameras = RegisteredCameras(table)
    assert cameras.unregistered_reason(FRAME) is None
    assert cameras.unregistered_reason(FrameKey("demo-store", "cam-2", 1)) == (
        "camera 'cam-2' is not registered to store 'demo-store'"
    )
    assert cameras.unregistered_reason(FrameKey("elsewhere", "demo-cam-1", 1)) == (
        "store 'elsewhere' is not in the registry"
    )


def test_a_store_is_read_once_per_ttl_and_again_after_it():
    # GIVEN a 60 s cache and a store not yet registered
    table = CountingTable({})
    now = [0.0]
    cameras = RegisteredCameras(table, ttl_s=60, clock=lambda: now[0])
    assert cameras.unregistered_reason(FRAME) is not None
    # WHEN the store is registered and frames keep coming
    table.items["store#demo-store"] = {"cameras": {"demo-store/demo-cam-1"}}
    now[0] = 59.0
    still_cached = cameras.unregistered_reason(FRAME)
    now[0] = 61.0
    refreshed = cameras.unregistered_reason(FRAME)
    # THEN within the TTL the cached answer stands (one read), after it the new one is seen
    assert still_cached is not None and refreshed is None
    assert table.reads == 2
