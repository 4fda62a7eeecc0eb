"""The rollups as Parquet partitioned by date and store: DuckDB finds the report's totals."""

from __future__ import annotations

import boto3
import pyarrow.parquet as pq
import pytest

from adserver.impressions import Impression
from adserver.reports import build_report
from adserver.rollup_export import SCHEMA, duckdb_totals, parquet_files, write_files
from adserver.tracks import Track
from tests.conftest import REGION, provision_template
from tests.fakes import rollup_records

DAY0 = 1_764_460_800_000  # 2025-11-30 00:00 UTC
HOUR = 3_600_000


def person(store, at_ms, looking_s=0.0, gender="female"):
    return Track(f"{store}/cam-1", at_ms, at_ms + 4000, "adult", gender, 0.9, 8, 4.0, looking_s)


def play(store, at_ms, bucket="adult/female"):
    return Impression(store, "d1", "ad", None, bucket, at_ms, 8.0, at_ms)


@pytest.fixture
def records():
    """Two stores over three days: people every 7 minutes, plays every 5, some watchers."""
    tracks, plays = [], []
    for store in ("north", "south"):
        for minute in range(0, 3 * 24 * 60, 7):
            at_ms = DAY0 + minute * 60_000
            tracks.append(person(store, at_ms, looking_s=2.0 * (minute % 3 == 0)))
        plays += [play(store, DAY0 + m * 60_000) for m in range(0, 3 * 24 * 60, 5)]
    return rollup_records(plays, tracks)


def test_files_are_partitioned_by_date_and_store(records, tmp_path):
    written = write_files(parquet_files(records), str(tmp_path))
    assert len(written) == 6
    assert (tmp_path / "date=2025-12-01" / "store=south" / "rollups.parquet").is_file()
    # AND each file holds the rollup cells' counts only: nothing per person
    table = pq.read_table(tmp_path / "date=2025-11-30" / "store=north" / "rollups.parquet")
    assert table.schema.equals(SCHEMA)


@pytest.mark.parametrize(
    ("store", "from_ms", "to_ms"),
    [
        ("north", DAY0, DAY0 + 3 * 24 * HOUR),  # everything
        ("south", DAY0 + 30 * HOUR + 1, DAY0 + 50 * HOUR),  # across a date, mid-hour
        ("north", DAY0 + 80 * HOUR, DAY0 + 90 * HOUR),  # after the data
    ],
)
def test_duckdb_over_the_files_finds_the_report_totals(records, tmp_path, store, from_ms, to_ms):
    # GIVEN the rollups exported as Parquet
    write_files(parquet_files(records), str(tmp_path))
    # WHEN DuckDB sums the range and the report is built from the same rollups
    totals = duckdb_totals(tmp_path, store, from_ms, to_ms)
    in_range = [r for r in records if r["store"] == store]
    report = build_report(store, from_ms, to_ms, in_range)["totals"]
    # THEN they agree
    assert totals == {k: report[k] for k in ("people", "watchers", "impressions")}


def test_the_export_goes_to_s3_under_the_glue_tables_location(aws, records):
    # GIVEN the template provisioned on moto, with its analytics bucket and Glue table
    stack = provision_template("export")
    glue = boto3.client("glue", region_name=REGION)
    table = glue.get_table(
        DatabaseName=stack.outputs["RollupsGlueDatabase"], Name=stack.outputs["RollupsGlueTable"]
    )["Table"]
    location = table["StorageDescriptor"]["Location"]
    assert [key["Name"] for key in table["PartitionKeys"]] == ["date", "store"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == SCHEMA.names
    # WHEN the rollups are exported there
    written = write_files(parquet_files(records), location)
    # THEN the files are in the bucket under the table's location, one per date and store
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    keys = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket, Prefix=prefix)
    assert sorted(f"s3://{bucket}/{o['Key']}" for o in keys["Contents"]) == sorted(written)
    assert len(written) == 6
