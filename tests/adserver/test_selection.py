"""Ad selection: targeting, schedule, frequency cap, child content gate, weights, default."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from adserver.audience import Audience
from adserver.catalog import Catalog, StoreSettings, parse_catalog
from adserver.selection import Play, next_ad

# A Friday, 18:30 in London (BST).
FRIDAY_EVENING = datetime(2024, 6, 7, 17, 30, tzinfo=UTC)
NOW_MS = int(FRIDAY_EVENING.timestamp() * 1000)
LONDON = StoreSettings(time_zone="Europe/London")


def audience(bucket: str, faces: int = 1) -> Audience:
    return Audience(bucket=bucket, faces=faces if bucket != "none" else 0, window_s=10)


def creative(cid: str, **extra: object) -> dict:
    return {"id": cid, "url": f"/static/creatives/{cid}.svg", "duration_s": 8, **extra}


def small_catalog(*campaigns: dict) -> Catalog:
    return parse_catalog({"default_creative": creative("house"), "campaigns": list(campaigns)})


def test_senior_woman_gets_the_senior_female_campaign(catalog: Catalog) -> None:
    # GIVEN the seed catalog and one senior woman in front of the display, on a Monday morning
    monday_morning = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
    decision = next_ad(
        audience("senior/female"),
        catalog,
        catalog.store("demo-store"),
        monday_morning,
        [],
        random.Random(1),
    )
    # THEN the ad is the senior female creative, and the reason says so
    assert decision.creative.id == "senior-female"
    assert decision.campaign_id == "senior-female-reading-glasses"
    assert decision.reason.startswith("targeted senior/female: campaign senior-female")


def test_nobody_there_plays_the_default(catalog: Catalog) -> None:
    decision = next_ad(audience("none"), catalog, LONDON, FRIDAY_EVENING, [], random.Random(1))
    assert decision.creative.id == "house-welcome"
    assert decision.campaign_id is None
    assert decision.reason == "default: nobody in front of the display"


def test_child_content_is_off_unless_the_store_turns_it_on(catalog: Catalog) -> None:
    # GIVEN a child in front of the display
    child = audience("child/female")
    # WHEN the store has not enabled children's content THEN the default plays
    off = next_ad(child, catalog, LONDON, FRIDAY_EVENING, [], random.Random(1))
    assert off.creative.id == "house-welcome"
    assert off.reason == "default: no eligible campaign for child/female (1 aimed at children)"
    # WHEN the store enables it THEN the child creative plays
    on_store = StoreSettings(time_zone="Europe/London", children_content=True)
    on = next_ad(child, catalog, on_store, FRIDAY_EVENING, [], random.Random(1))
    assert on.creative.id == "child-female"


def test_child_creatives_never_reach_other_audiences_when_off() -> None:
    # GIVEN a family campaign for adults that mixes a child creative with an adult one
    family = {
        "id": "family",
        "target": {"bands": ["adult"]},
        "creatives": [creative("toys", audience_children=True), creative("cars")],
    }
    catalog = small_catalog(family)
    picks = {
        next_ad(
            audience("adult/male"), catalog, LONDON, FRIDAY_EVENING, [], random.Random(s)
        ).creative.id
        for s in range(50)
    }
    assert picks == {"cars"}


def test_schedule_uses_the_store_time_zone(catalog: Catalog) -> None:
    # GIVEN the seed's evening tasting (Thu-Sat 17-21 local) for adults and seniors
    # WHEN it is 18:30 in London THEN it competes; in Tokyo (02:30 Saturday) it does not
    tokyo = StoreSettings(time_zone="Asia/Tokyo")
    london_ids = Counter(
        next_ad(
            audience("adult/male"), catalog, LONDON, FRIDAY_EVENING, [], random.Random(s)
        ).creative.id
        for s in range(300)
    )
    tokyo_ids = Counter(
        next_ad(
            audience("adult/male"), catalog, tokyo, FRIDAY_EVENING, [], random.Random(s)
        ).creative.id
        for s in range(300)
    )
    assert set(london_ids) == {"adult-male", "evening-tasting"}
    assert set(tokyo_ids) == {"adult-male"}


def test_frequency_cap_moves_on_to_the_next_campaign() -> None:
    # GIVEN two campaigns for teens, the heavier one capped at 2 plays per 10 minutes
    capped = {
        "id": "heavy",
        "target": {"bands": ["teen"]},
        "weight": 100,
        "frequency_cap": {"max_plays": 2, "per_minutes": 10},
        "creatives": [creative("heavy-ad")],
    }
    light = {"id": "light", "target": {"bands": ["teen"]}, "creatives": [creative("light-ad")]}
    catalog = small_catalog(capped, light)
    recent = [Play("heavy-ad", NOW_MS - 60_000), Play("heavy-ad", NOW_MS - 120_000)]
    old = [Play("heavy-ad", NOW_MS - 11 * 60_000), Play("heavy-ad", NOW_MS - 12 * 60_000)]
    # WHEN the display played it twice in the last 10 minutes THEN the light campaign plays
    decision = next_ad(
        audience("teen/male"), catalog, LONDON, FRIDAY_EVENING, recent, random.Random(0)
    )
    assert decision.creative.id == "light-ad"
    # WHEN those plays are older than the cap's window THEN the heavy one is back
    decision = next_ad(
        audience("teen/male"), catalog, LONDON, FRIDAY_EVENING, old, random.Random(0)
    )
    assert decision.creative.id == "heavy-ad"


def test_everything_capped_falls_back_to_default_with_reasons() -> None:
    capped = {
        "id": "only",
        "target": {"bands": ["teen"]},
        "frequency_cap": {"max_plays": 1, "per_minutes": 5},
        "creatives": [creative("only-ad")],
    }
    closed = {
        "id": "sunday",
        "target": {"bands": ["teen"]},
        "schedule": {"days": ["sun"]},
        "creatives": [creative("sunday-ad")],
    }
    catalog = small_catalog(capped, closed)
    plays = [Play("only-ad", NOW_MS - 1000)]
    decision = next_ad(
        audience("teen/female"), catalog, LONDON, FRIDAY_EVENING, plays, random.Random(0)
    )
    assert decision.creative.id == "house"
    assert decision.reason == (
        "default: no eligible campaign for teen/female (1 out of schedule, 1 frequency cap reached)"
    )


def test_untargeted_bucket_plays_default() -> None:
    catalog = small_catalog(
        {"id": "teens", "target": {"bands": ["teen"]}, "creatives": [creative("t")]}
    )
    decision = next_ad(
        audience("senior/male"), catalog, LONDON, FRIDAY_EVENING, [], random.Random(0)
    )
    assert decision.creative.id == "house"
    assert decision.reason == "default: no eligible campaign for senior/male"


def test_weights_shape_the_mix_and_a_seed_makes_it_repeatable() -> None:
    # GIVEN campaign weights 3:1 and, inside the first, creative weights 1:1
    big = {
        "id": "big",
        "target": {"bands": ["adult"]},
        "weight": 3,
        "creatives": [creative("big-a"), creative("big-b")],
    }
    small = {"id": "small", "target": {"bands": ["adult"]}, "creatives": [creative("small-a")]}
    catalog = small_catalog(big, small)
    rng = random.Random(42)
    counts = Counter(
        next_ad(audience("adult/female"), catalog, LONDON, FRIDAY_EVENING, [], rng).creative.id
        for _ in range(4000)
    )
    # THEN shares are about 3/8, 3/8, 2/8
    assert abs(counts["big-a"] / 4000 - 0.375) < 0.03
    assert abs(counts["big-b"] / 4000 - 0.375) < 0.03
    assert abs(counts["small-a"] / 4000 - 0.25) < 0.03
    # AND the same seed gives the same decision
    first = next_ad(audience("adult/female"), catalog, LONDON, FRIDAY_EVENING, [], random.Random(7))
    again = next_ad(audience("adult/female"), catalog, LONDON, FRIDAY_EVENING, [], random.Random(7))
    assert first == again
