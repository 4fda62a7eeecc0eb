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


def test_each_camera_reads_its_own_smallest_face_setting_from_the_same_cached_item():
    # GIVEN a store whose entrance camera is close to its audience, and a malformed entry
    from decimal import Decimal

    table = CountingTable(
        {
            "store#demo-store": {
                "cameras": {"demo-store/demo-cam-1", "demo-store/aisle", "demo-store/odd"},
                "min_face_px": {"demo-cam-1": Decimal("64"), "odd": "not a number"},
            }
        }
    )
    cameras = RegisteredCameras(table)
    # WHEN each camera's setting is asked for, after the registration check
    assert cameras.unregistered_reason(FRAME) is None
    entrance = cameras.min_face_px(FRAME)
    aisle = cameras.min_face_px(FrameKey("demo-store", "aisle", 1))
    odd = cameras.min_face_px(FrameKey("demo-store", "odd", 1))
    # THEN the set one is used, the others fall back to the default, all from one read
    assert (entrance, aisle, odd) == (64.0, None, None)
    assert table.reads == 1
