"""python -m bench: the quick run of the cheap parts, the cost arithmetic, and the README table
rendered from results.json."""

from __future__ import annotations

import json

import pytest

from bench.__main__ import main
from bench.cost import frame_costs
from bench.report import BEGIN, END, README, RESULTS, readme_table, render_table
from infra.costs import load_prices


@pytest.fixture
def readme(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(f"# Title\n\n## Performance\n\n{BEGIN}\nold table\n{END}\n\nAfter.\n")
    return path


def test_a_quick_run_writes_the_results_and_the_readme_table_from_them(tmp_path, readme):
    # GIVEN no results yet
    results_path = tmp_path / "results.json"
    # WHEN the cheap parts run at their quick size on the sample photos
    places = ["--json", str(results_path), "--readme", str(readme)]
    status = main(["--only", "per-frame", "gpu", "--quick", "--frames-from", "samples", *places])
    # THEN both profiles have per-frame timings, the GPU says not measured, the cost follows
    assert status == 0
    results = json.loads(results_path.read_text())
    assert {"per_frame", "gpu", "cost"} <= results.keys()
    for name in ("near", "far"):
        timing = results["per_frame"]["profiles"][name]
        assert 0 < timing["median_ms"] <= timing["p95_ms"]
    assert results["per_frame"]["quick"] is True
    assert results["gpu"]["measured"] is False
    assert (
        results["cost"]["lambda"]["ms_per_frame"]
        == results["per_frame"]["profiles"]["far"]["mean_ms"]
    )
    assert results["cost"]["gpu"]["usd"] is None
    # AND the README's block is the table rendered from that file, the rest of it untouched
    text = readme.read_text()
    assert readme_table(readme) == render_table(results)
    assert text.startswith("# Title\n\n## Performance\n\n") and text.endswith("\n\nAfter.\n")
    assert "old table" not in text and "`--quick` run" in text


def test_the_table_says_not_measured_for_a_part_never_run_or_skipped():
    # GIVEN results where only the per-face part ran, and the cold start was skipped
    results = {
        "per_face": {
            "date": "2026-11-30",
            "machine": "m",
            "quick": False,
            "ours_ms": 0.8,
            "peer_ms": 4.0,
            "ratio": 5.0,
            "images": 3146,
        },
        "cold_start": {"date": "2026-11-30", "machine": "m", "skipped": "no TensorFlow"},
    }
    # WHEN the table is rendered
    table = render_table(results)
    # THEN the measured row has its figures and the others say not measured, with the reason
    assert "ours 0.8 ms, peer 4 ms: 5x (3146 validation images)" in table
    assert "not measured (no TensorFlow)" in table
    assert "measured 2026-11-30 on m." in table
    assert table.count("not measured") >= 6
    assert "--quick" not in table


def test_the_cost_is_the_measured_ms_at_the_template_memory_and_list_prices():
    # GIVEN a far-profile mean of 100 ms per frame and no GPU figure
    prices = load_prices()
    results = {"per_frame": {"profiles": {"far": {"mean_ms": 100.0}}}, "gpu": {}}
    # WHEN the cost per 1,000 frames is computed
    costs = frame_costs(results, prices)
    # THEN Lambda pays 0.1 s x 2 GB x the GB-second price plus a request per frame
    gb_s = prices["prices"]["lambda_gb_second_x86"]["usd"]
    request = prices["prices"]["lambda_requests_per_million"]["usd"] / 1e6
    compute = 1000 * (0.1 * 2 * gb_s + request)
    assert costs["lambda"]["compute_usd"] == pytest.approx(compute, abs=1e-5)
    assert costs["lambda"]["usd"] == pytest.approx(compute + costs["calls_usd"], abs=1e-5)
    # AND the GPU has no figure, and one g5.xlarge breaks even where its hour costs the same
    assert costs["gpu"]["usd"] is None and costs["gpu"]["instance_type"] == "g5.xlarge"
    hourly = prices["prices"]["ec2_g5_xlarge_hour"]["usd"]
    assert costs["break_even_fps"] == pytest.approx(hourly / 3600 / (compute / 1000), abs=0.1)
    assert costs["rekognition_usd"] == 1.0


def test_the_readme_table_is_the_one_rendered_from_the_committed_results():
    # GIVEN the committed results, once `make bench` has written them
    if not RESULTS.exists():
        pytest.skip("bench/results.json not written yet (make bench)")
    # THEN the README shows exactly the table rendered from them
    assert readme_table(README) == render_table(json.loads(RESULTS.read_text()))


def test_the_rate_search_doubles_then_bisects_to_the_largest_rate_held(monkeypatch):
    from bench import stack_load
    from bench.options import BenchOptions

    # GIVEN a stack that holds p95 <= 1 s up to 13 frames/s
    tried = []

    def trial(outputs, frames, fps, seconds):
        tried.append(fps)
        return {"fps": fps, "achieved_fps": fps, "kept_up": fps <= 13, "held": fps <= 13}

    monkeypatch.setattr(stack_load, "trial", trial)
    # WHEN the full-size search runs
    found = stack_load.largest_steady_rate(None, [], BenchOptions())
    # THEN it doubles from 2 until 16 misses, then bisects between 8 and 16 three times
    assert tried == [2, 4, 8, 16, 12, 14, 13]
    assert (found["max_fps"], found["limited_by"]) == (13, "p95")


def test_a_rate_the_uploader_cannot_reach_is_not_blamed_on_the_stack(monkeypatch):
    from bench import stack_load
    from bench.options import BenchOptions

    # GIVEN an uploader that tops out at 30 frames/s and a stack that keeps up with it
    def trial(outputs, frames, fps, seconds):
        reached = min(fps, 30)
        return {"fps": fps, "achieved_fps": reached, "kept_up": True, "held": reached >= 0.9 * fps}

    monkeypatch.setattr(stack_load, "trial", trial)
    # WHEN the search runs
    found = stack_load.largest_steady_rate(None, [], BenchOptions())
    # THEN the largest rate held is reported as limited by the uploader
    assert found["limited_by"] == "uploader"
    assert 24 <= found["max_fps"] <= 32
