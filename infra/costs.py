"""An approximate AWS bill per month for a number of stores, from infra/prices.json.

    python -m infra.costs --stores 10 1000

Every figure rests on the workload assumptions below (one camera and one display per store,
open 12 hours a day); change them to fit a chain before trusting the total. Free tiers are
ignored, so a small deployment pays less than this says.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.console import DefaultsHelpFormatter, printable, run_main

PRICES_PATH = Path(__file__).with_name("prices.json")

OPEN_SECONDS = 12 * 3600 * 30  # a month of 12-hour days
# The camera client sends 2 frames a second while something moves and one every 5 s when
# nothing does (infra/camera.py); half a frame a second is the average assumed over a day.
FRAMES_PER_SECOND = 0.5
INFERENCE_GB, INFERENCE_BILLED_S = 2.0, 0.15  # template MemorySize; one frame per invocation
TRACKER_GB, TRACKER_BILLED_S, FRAMES_PER_TRACKER_BATCH = 0.25, 0.1, 5
ADSERVER_GB, ADSERVER_BILLED_S = 0.5, 0.05
POLLS_PER_SECOND = 1.0  # the player polls next-ad as Cache-Control max-age (1 s) allows
SECONDS_PER_PLAY = 10.0  # one impression per creative played
# DynamoDB units: an observation with faces ~2 KB (2 writes) and a read that it is not there yet;
# a poll reads the token, the display, recent observations and the ~35 KB play log (eventually
# consistent); an impression writes itself and rewrites the play log after a consistent read.
OBSERVATION_WRU, OBSERVATION_RRU = 2, 1
TRACKER_WRU, TRACKER_RRU = 3, 1
POLL_RRU = 6
IMPRESSION_WRU, IMPRESSION_RRU = 37, 9
LOG_BYTES_PER_INVOCATION = 500
ALARMS, DASHBOARDS, IMAGE_GB = 10, 1, 0.5
FUNCTIONS = 3
# A frame's job on SQS: the send (from SNS, billed to the queue), the receive and the delete.
SQS_REQUESTS_PER_FRAME = 3


@dataclass(frozen=True)
class Line:
    service: str
    usd: float


def load_prices(path: Path = PRICES_PATH) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def monthly_cost(stores: int, prices: dict[str, Any]) -> list[Line]:
    """What ``stores`` stores cost a month, by service, in US dollars (approximately)."""
    p = {name: float(entry["usd"]) for name, entry in prices["prices"].items()}
    frames = stores * FRAMES_PER_SECOND * OPEN_SECONDS
    polls = stores * POLLS_PER_SECOND * OPEN_SECONDS
    plays = stores * OPEN_SECONDS / SECONDS_PER_PLAY
    tracker_batches = frames / FRAMES_PER_TRACKER_BATCH
    requests = frames + tracker_batches + polls + plays
    gb_seconds = (
        frames * INFERENCE_GB * INFERENCE_BILLED_S
        + tracker_batches * TRACKER_GB * TRACKER_BILLED_S
        + (polls + plays) * ADSERVER_GB * ADSERVER_BILLED_S
    )
    write_units = frames * OBSERVATION_WRU + tracker_batches * TRACKER_WRU
    write_units += plays * IMPRESSION_WRU
    read_units = frames * OBSERVATION_RRU + tracker_batches * TRACKER_RRU
    read_units += polls * POLL_RRU + plays * IMPRESSION_RRU
    # X-Ray's default sampling: the first request each second, then 5 % of the rest.
    per_function = requests / FUNCTIONS
    traces = FUNCTIONS * min(
        per_function, OPEN_SECONDS + 0.05 * max(0.0, per_function - OPEN_SECONDS)
    )
    million = 1e6
    return [
        Line(
            "Lambda",
            requests / million * p["lambda_requests_per_million"]
            + gb_seconds * p["lambda_gb_second_x86"],
        ),
        Line(
            "API Gateway HTTP API", (polls + plays) / million * p["http_api_requests_per_million"]
        ),
        Line(
            "S3 requests",
            frames / 1000 * (p["s3_put_post_per_thousand"] + p["s3_get_per_thousand"]),
        ),
        Line(
            "SNS + SQS",
            frames / million * (p["sns_publishes_per_million"])
            + SQS_REQUESTS_PER_FRAME * frames / million * p["sqs_standard_requests_per_million"],
        ),
        Line(
            "DynamoDB",
            write_units / million * p["dynamodb_on_demand_write_units_per_million"]
            + read_units / million * p["dynamodb_on_demand_read_units_per_million"],
        ),
        Line(
            "CloudWatch (logs, alarms, dashboard)",
            requests * LOG_BYTES_PER_INVOCATION / 1e9 * p["cloudwatch_logs_ingested_gb"]
            + ALARMS * p["cloudwatch_alarm_month"]
            + DASHBOARDS * p["cloudwatch_dashboard_month"],
        ),
        Line("X-Ray", traces / million * p["xray_traces_recorded_per_million"]),
        Line("ECR (inference image)", IMAGE_GB * p["ecr_storage_gb_month"]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.costs",
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--stores", type=int, nargs="+", default=[10, 1000], help="store counts")
    parser.add_argument("--prices", type=Path, default=PRICES_PATH, help="price list (JSON)")
    args = parser.parse_args(argv)
    prices = load_prices(args.prices)
    # The price list is a file the operator may pass (--prices): its strings are shown escaped.
    region, as_of = printable(prices["region"]), printable(prices["as_of"])
    print(f"approximate USD per month, {region} list prices of {as_of}")
    for stores in args.stores:
        lines = monthly_cost(stores, prices)
        print(f"\n{stores} stores: about ${sum(line.usd for line in lines):,.0f}")
        for line in lines:
            print(f"  {line.service:<38} ${line.usd:>10,.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
