"""Catalog: validation with field-named errors, schedules, the S3 document source."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adserver.catalog import (
    ALL_BUCKETS,
    SEED_CATALOG_PATH,
    Catalog,
    CatalogError,
    S3CatalogSource,
    Schedule,
    load_catalog,
    main,
    parse_catalog,
)


def seed_document() -> dict[str, Any]:
    return json.loads(SEED_CATALOG_PATH.read_text())


def problems_of(document: Any) -> list[str]:
    with pytest.raises(CatalogError) as exc:
        parse_catalog(document)
    return exc.value.problems


def test_seed_catalog_covers_every_band_and_gender(catalog: Catalog) -> None:
    # GIVEN the shipped seed catalog
    # WHEN we list which buckets its campaigns target
    covered = {bucket for camp in catalog.campaigns for bucket in camp.target.buckets()}
    # THEN every band x gender has at least one campaign, and a default exists
    assert covered == set(ALL_BUCKETS)
    assert catalog.default_creative.id == "house-welcome"


def test_seed_child_creatives_are_flagged_for_children(catalog: Catalog) -> None:
    child_campaigns = [c for c in catalog.campaigns if c.target.bands == ("child",)]
    assert len(child_campaigns) == 2
    assert all(cr.audience_children for c in child_campaigns for cr in c.creatives)


def test_seed_creative_files_exist(catalog: Catalog) -> None:
    static = SEED_CATALOG_PATH.parent
    for creative in catalog.all_creatives():
        assert (static / creative.url.lstrip("/")).is_file(), creative.url


def test_bad_hour_names_the_field() -> None:
    # GIVEN a campaign whose schedule starts at hour 25
    document = seed_document()
    document["campaigns"][2]["schedule"] = {"hours": [25, 10]}
    # WHEN it is validated THEN the error names the exact field
    problems = problems_of(document)
    assert len(problems) == 1
    assert problems[0].startswith("campaigns[2].schedule.hours[0]: ")
    assert "24" in problems[0]


def test_unknown_band_and_zone_are_each_reported() -> None:
    document = seed_document()
    document["campaigns"][0]["target"]["bands"] = ["toddler"]
    document["stores"]["demo-store"]["time_zone"] = "Mars/Olympus"
    problems = problems_of(document)
    assert any(
        p.startswith("campaigns[0].target.bands: must be a non-empty list from") for p in problems
    )
    assert any(
        p.startswith("stores.demo-store.time_zone: unknown time zone 'Mars/Olympus'")
        for p in problems
    )


def test_missing_and_extra_fields_are_named() -> None:
    document = seed_document()
    del document["campaigns"][1]["creatives"][0]["duration_s"]
    document["campaigns"][1]["colour"] = "red"
    problems = problems_of(document)
    assert "campaigns[1].creatives[0].duration_s: Field required" in problems
    assert any(p.startswith("campaigns[1].colour: Extra inputs") for p in problems)


def test_duplicate_creative_ids_are_refused() -> None:
    document = seed_document()
    document["campaigns"][3]["creatives"][0]["id"] = "house-welcome"
    problems = problems_of(document)
    assert problems == ["(document): creative id 'house-welcome' is used more than once"]


def test_default_creative_may_not_target_children() -> None:
    document = seed_document()
    document["default_creative"]["audience_children"] = True
    assert problems_of(document) == ["(document): default_creative must not be aimed at children"]


def test_invalid_json_is_one_clear_problem() -> None:
    with pytest.raises(CatalogError) as exc:
        load_catalog(b"{not json")
    assert exc.value.problems[0].startswith("(document): not valid JSON")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.domain)",
        "JavaScript:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "//cdn.example.com/ad.svg",  # another host, whatever the page's scheme
        "/\\cdn.example.com/ad.svg",  # browsers read the backslash as a slash
        " javascript:alert(1)",
        '/static/creatives/a.svg" onerror="alert(1)',
        "ftp://example.com/ad.svg",
        "https:/no-host.svg",
    ],
)
def test_creative_urls_other_than_http_or_relative_are_refused_with_the_reason(url: str) -> None:
    # GIVEN a catalog whose first campaign's creative points somewhere a browser would run
    document = seed_document()
    document["campaigns"][0]["creatives"][0]["url"] = url
    # WHEN it is validated THEN it is refused, naming the field and saying what is allowed
    problems = problems_of(document)
    assert problems[0].startswith("campaigns[0].creatives[0].url: must ")


@pytest.mark.parametrize(
    "url", ["/static/creatives/a.svg", "creatives/a.svg", "https://cdn.example.com/a.mp4"]
)
def test_http_and_relative_creative_urls_are_accepted(url: str) -> None:
    document = seed_document()
    document["campaigns"][0]["creatives"][0]["url"] = url
    assert parse_catalog(document).campaigns[0].creatives[0].url == url


@pytest.mark.parametrize("bad_id", ["<b>hi</b>", "-leading-dash", ".hidden", "a b", "x" * 65, ""])
def test_ids_outside_the_safe_alphabet_are_refused(bad_id: str) -> None:
    # GIVEN markup, a leading punctuation mark, a space or 65 characters as a creative id,
    # a campaign id and a store id WHEN validated THEN each is refused by its field
    document = seed_document()
    document["campaigns"][0]["creatives"][0]["id"] = bad_id
    document["campaigns"][1]["id"] = bad_id
    document["stores"][bad_id] = {}
    problems = problems_of(document)
    assert any(p.startswith("campaigns[0].creatives[0].id: String should match") for p in problems)
    assert any(p.startswith("campaigns[1].id: String should match") for p in problems)
    assert any(p.startswith("stores.") and "should match" in p for p in problems)


def test_check_command_names_a_javascript_url(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    document = seed_document()
    document["default_creative"]["url"] = "javascript:alert(1)"
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: default_creative.url: must be an http(s) URL or a relative path")


@pytest.mark.parametrize(
    ("when_utc", "expected"),
    [
        (datetime(2024, 6, 7, 15, 59, tzinfo=UTC), False),  # Fri 16:59 in London
        (datetime(2024, 6, 7, 16, 0, tzinfo=UTC), True),  # Fri 17:00 in London (BST)
        (datetime(2024, 6, 7, 19, 59, tzinfo=UTC), True),  # Fri 20:59
        (datetime(2024, 6, 7, 20, 0, tzinfo=UTC), False),  # Fri 21:00, end is exclusive
        (datetime(2024, 6, 5, 17, 0, tzinfo=UTC), False),  # Wednesday
    ],
)
def test_schedule_is_read_in_the_store_time_zone(when_utc: datetime, expected: bool) -> None:
    schedule = Schedule(days=("thu", "fri", "sat"), hours=(17, 21))
    assert schedule.is_open(when_utc, "Europe/London") is expected


def test_schedule_wraps_past_midnight_and_honours_its_own_zone() -> None:
    # GIVEN a late-night schedule pinned to Tokyo
    schedule = Schedule(hours=(22, 2), time_zone="Asia/Tokyo")
    # THEN 23:30 and 01:00 Tokyo are open, 12:00 Tokyo is not, whatever the store's zone
    assert schedule.is_open(datetime(2024, 1, 1, 14, 30, tzinfo=UTC), "Europe/London")
    assert schedule.is_open(datetime(2024, 1, 1, 16, 0, tzinfo=UTC), "Europe/London")
    assert not schedule.is_open(datetime(2024, 1, 1, 3, 0, tzinfo=UTC), "Europe/London")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_s3_source_reloads_after_max_age_and_keeps_last_good(s3: Any, bucket_name: str) -> None:
    # GIVEN the seed catalog in S3
    clock = FakeClock()
    source = S3CatalogSource(s3, bucket_name, "catalog.json", max_age_s=10, clock=clock)
    source.put(load_catalog(SEED_CATALOG_PATH.read_bytes()))
    assert source.get().default_creative.id == "house-welcome"

    # WHEN an operator uploads a changed default creative
    changed = seed_document()
    changed["default_creative"]["id"] = "house-sale"
    s3.put_object(Bucket=bucket_name, Key="catalog.json", Body=json.dumps(changed))
    # THEN it is served once max_age has passed, not before
    clock.now = 5
    assert source.get().default_creative.id == "house-welcome"
    clock.now = 10
    assert source.get().default_creative.id == "house-sale"

    # WHEN a broken document is uploaded THEN the last good one stays, with the reason kept
    broken = copy.deepcopy(changed)
    broken["campaigns"][0]["weight"] = -1
    s3.put_object(Bucket=bucket_name, Key="catalog.json", Body=json.dumps(broken))
    clock.now = 20
    assert source.get().default_creative.id == "house-sale"
    assert source.last_error is not None
    assert "campaigns[0].weight" in source.last_error.problems[0]


def test_s3_source_without_document_raises_catalog_error(s3: Any, bucket_name: str) -> None:
    source = S3CatalogSource(s3, bucket_name, "missing.json")
    with pytest.raises(CatalogError) as exc:
        source.get()
    assert "cannot read s3://" in exc.value.problems[0]


def test_check_command_reports_problems(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    document = seed_document()
    document["campaigns"][0]["creatives"][0]["kind"] = "hologram"
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: campaigns[0].creatives[0].kind:")
    assert main(["check", str(SEED_CATALOG_PATH)]) == 0


def test_check_command_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    assert "check" in capsys.readouterr().out


def test_s3_source_serves_the_fallback_until_a_document_is_uploaded(
    s3: Any, bucket_name: str
) -> None:
    # GIVEN no catalog in S3 yet and the seed as fallback
    clock = FakeClock()
    fallback = load_catalog(SEED_CATALOG_PATH.read_bytes())
    source = S3CatalogSource(s3, bucket_name, "catalog.json", clock=clock, fallback=fallback)
    assert source.get() is fallback
    # WHEN an operator uploads one THEN it replaces the fallback at the next refresh
    changed = seed_document()
    changed["default_creative"]["id"] = "house-sale"
    s3.put_object(Bucket=bucket_name, Key="catalog.json", Body=json.dumps(changed))
    clock.now = 10
    assert source.get().default_creative.id == "house-sale"
