"""The hourly rollups as Parquet, partitioned by date and store, for Athena and DuckDB.

Each rollup cell (an hour, a camera's or display's place, an audience bucket) becomes one
row: its counts and its dwell and looking histograms, nothing per person. Files are laid
out as Hive partitions, ``{root}/date=YYYY-MM-DD/store=STORE/rollups.parquet`` (dates in
UTC), which is what the Glue table in template.yaml (``RollupsGlueTable``, partition
projection on ``date`` and ``store``) reads in S3 and what DuckDB reads locally:

    python -m adserver.rollup_export --store demo-store --from 2026-11-01T00:00:00Z \\
        --to 2026-12-01T00:00:00Z --out .local/rollups          # the local stack's rollups
    python -m adserver.rollup_export ... --out s3://BUCKET/rollups   # the Glue table's place

A day's file is rewritten whole, so exporting a day again replaces it.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from adserver.reports import ReportRangeError, report_range
from adserver.rollups import (
    HOUR_MS,
    IMPRESSIONS,
    PEOPLE,
    PLAY_S,
    WATCHERS,
    Cell,
    DynamoRollups,
    cells_of,
)
from infra.outputs import StackOutputs

FILE_NAME = "rollups.parquet"
# The columns of every file; ``date`` and ``store`` are the partitions, in the path.
SCHEMA = pa.schema(
    [
        ("hour", pa.timestamp("ms", tz="UTC")),
        # A camera for people, a display for plays; "ad:{ad_id}" repeats a display's plays
        # by ad, so store totals sum the rows whose place does not start with "ad:".
        ("place", pa.string()),
        ("bucket", pa.string()),
        ("people", pa.int64()),
        ("watchers", pa.int64()),
        ("impressions", pa.int64()),
        ("play_s", pa.float64()),
        ("play_people", pa.int64()),  # people present during the plays, summed over them
        ("play_watchers", pa.int64()),
        ("dwell_histogram", pa.list_(pa.int64())),  # bins of adserver.rollups
        ("looking_histogram", pa.list_(pa.int64())),
    ]
)


def rollup_rows(
    records: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The rows of the store-hour ``records``, by (date, store) partition."""
    partitions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        hour_ms = int(record["hour_ms"])
        hour = datetime.fromtimestamp(hour_ms / 1000, UTC)
        rows = partitions[(hour.date().isoformat(), str(record["store"]))]
        for (place, bucket), counts in sorted(cells_of(record).items()):
            cell = Cell(counts)
            rows.append(
                {
                    "hour": hour,
                    "place": place,
                    "bucket": bucket,
                    "people": int(cell.counts[PEOPLE]),
                    "watchers": int(cell.counts[WATCHERS]),
                    "impressions": int(cell.counts[IMPRESSIONS]),
                    "play_s": float(cell.counts[PLAY_S]),
                    "play_people": cell.play_people,
                    "play_watchers": cell.play_watchers,
                    "dwell_histogram": cell.dwell_bins,
                    "looking_histogram": cell.looking_bins,
                }
            )
    return partitions


def parquet_files(records: Iterable[Mapping[str, Any]]) -> dict[str, bytes]:
    """Each partition's file, by its path under the export's root."""
    files: dict[str, bytes] = {}
    for (date, store), rows in sorted(rollup_rows(records).items()):
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), buffer, compression="zstd")
        files[f"date={date}/store={store}/{FILE_NAME}"] = buffer.getvalue()
    return files


def write_files(files: Mapping[str, bytes], out: str, s3: Any = None) -> list[str]:
    """Write ``files`` under ``out``: a folder, or ``s3://bucket/prefix``; where they went."""
    written = []
    if out.startswith("s3://"):
        bucket, _, prefix = out.removeprefix("s3://").partition("/")
        client = s3 or boto3.client("s3")
        for relative, body in files.items():
            key = f"{prefix.rstrip('/')}/{relative}".lstrip("/")
            client.put_object(Bucket=bucket, Key=key, Body=body)
            written.append(f"s3://{bucket}/{key}")
        return written
    for relative, body in files.items():
        path = Path(out) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(body)
        partial.replace(path)
        written.append(str(path))
    return written


def duckdb_totals(root: Path, store: str, from_ms: int, to_ms: int) -> dict[str, int]:
    """People, watchers and impressions of ``store`` in [from, to) hours, read by DuckDB from
    the exported files, as an analyst would query them."""
    pattern = str(root / "date=*" / "store=*" / FILE_NAME)
    query = """
        SELECT coalesce(sum(people), 0), coalesce(sum(watchers), 0),
               coalesce(sum(impressions), 0)
        FROM read_parquet(?, hive_partitioning = true)
        WHERE store = ? AND hour >= to_timestamp(? / 1000) AND hour < to_timestamp(? / 1000)
          AND place NOT LIKE 'ad:%'  -- those rows repeat the plays by ad
    """
    first_hour = from_ms - from_ms % HOUR_MS
    with duckdb.connect() as connection:
        row = connection.execute(query, [pattern, store, first_hour, to_ms]).fetchone()
    assert row is not None
    people, watchers, impressions = (int(value) for value in row)
    return {"people": people, "watchers": watchers, "impressions": impressions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adserver.rollup_export",
        description="Export a store's hourly rollups as Parquet partitioned by date and store.",
    )
    parser.add_argument("--store", required=True)
    parser.add_argument("--from", dest="from_", required=True, help="ISO 8601 or epoch ms")
    parser.add_argument("--to", required=True, help="ISO 8601 or epoch ms, at most 31 days on")
    parser.add_argument("--out", required=True, help="a folder or s3://bucket/prefix")
    parser.add_argument(
        "--table",
        help="the rollups table in AWS (credentials from the environment); default: the"
        " running local stack's",
    )
    args = parser.parse_args(argv)
    try:
        from_ms, to_ms = report_range(args.from_, args.to)
    except ReportRangeError as refused:
        print(f"rollup_export: {refused.reason}", file=sys.stderr)
        return 2
    if args.table:
        dynamodb, s3, table_name = boto3.resource("dynamodb"), boto3.client("s3"), args.table
    else:
        try:
            outputs = StackOutputs.read()
        except FileNotFoundError as missing:
            print(f"rollup_export: no --table, and {missing}", file=sys.stderr)
            return 2
        dynamodb, s3 = outputs.resource("dynamodb"), outputs.client("s3")
        table_name = str(outputs.document["rollups_table"])
    records = DynamoRollups(dynamodb.Table(table_name)).hours(args.store, from_ms, to_ms)
    written = write_files(parquet_files(records), args.out, s3)
    print(f"{len(records)} hours of {args.store} -> {len(written)} files under {args.out}")
    if not args.out.startswith("s3://"):
        totals = duckdb_totals(Path(args.out), args.store, from_ms, to_ms)
        print("DuckDB over the files: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
