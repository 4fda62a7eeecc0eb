"""python -m bench: measure, write bench/results.json and the README's table, print the cost.

    python -m bench [--only PART ...] [--quick] [--data DIR] [--frames-from samples]

Parts: per-face, per-frame, cold-start, runtime-size, stack, gpu (all by default). A part
that cannot run here, or fails, says why, is recorded as such ("not measured" in the table),
the other parts still run, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.cost import format_costs, frame_costs
from bench.gpu import gpu
from bench.model_speed import cold_start, per_face, per_frame
from bench.options import DEFAULT_DATA, BenchOptions, PartSkipped
from bench.report import README, RESULTS, read_results, record, update_readme, write_results
from bench.runtime_size import runtime_size
from bench.stack_load import stack_load
from infra.costs import load_prices

PARTS: dict[str, Callable[[BenchOptions], dict[str, Any]]] = {
    "per-face": per_face,
    "per-frame": per_frame,
    "cold-start": cold_start,
    "runtime-size": runtime_size,
    "stack": stack_load,
    "gpu": gpu,
}


def run_parts(names: list[str], options: BenchOptions, results: dict[str, Any]) -> list[str]:
    """Measure each part into ``results``; the names of those skipped."""
    skipped = []
    for name in names:
        started = time.monotonic()
        print(f"bench: {name} ...", flush=True)
        try:
            figures = PARTS[name](options)
        except PartSkipped as exc:
            print(f"bench: {name} skipped: {exc}", file=sys.stderr, flush=True)
            figures = {"skipped": str(exc)}
            skipped.append(name)
        except Exception as exc:  # one part's failure must not lose the others' figures
            traceback.print_exc()
            print(f"bench: {name} failed: {exc}", file=sys.stderr, flush=True)
            figures = {"skipped": f"failed: {exc}"}
            skipped.append(name)
        record(results, name.replace("-", "_"), figures, options.quick)
        print(f"bench: {name} done in {time.monotonic() - started:.0f} s", flush=True)
    return skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=" ".join(__doc__.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--only", nargs="+", choices=list(PARTS), help="these parts alone")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: figures not to quote")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="UTKFace-style folder")
    parser.add_argument(
        "--frames-from",
        choices=["scenes", "samples"],
        default="scenes",
        help="per-frame: store scenes from --data (far faces too) or the sample photos",
    )
    parser.add_argument("--json", type=Path, default=RESULTS, help="results file (merged)")
    parser.add_argument("--readme", type=Path, default=README, help="README to update")
    args = parser.parse_args(argv)
    options = BenchOptions(quick=args.quick, data=args.data, frames_from=args.frames_from)

    results = read_results(args.json)
    skipped = run_parts(args.only or list(PARTS), options, results)
    results["cost"] = frame_costs(results, load_prices())
    write_results(results, args.json)
    if not update_readme(results, args.readme):
        print(f"bench: no table markers in {args.readme}; left it alone", file=sys.stderr)
    print(f"wrote {args.json} and the table in {args.readme}")
    print(format_costs(results["cost"]))
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
