"""Dollars per 1,000 frames on Lambda and on a GPU instance, beside Rekognition DetectFaces,
from the measured figures in results.json and the dated prices of infra/prices.json.

Lambda: the far (default) profile's mean ms per frame on one core, billed at the template's
memory, one request per frame (a batch of 10 frames would pay a tenth). GPU: the template's
default instance type's hourly price over the worker's measured frames per hour. Both pay the
same S3 and queue calls per frame. Break-even: the load at which one always-on GPU instance
costs what Lambda's compute and requests cost, valid when that instance holds the load.
"""

from __future__ import annotations

from typing import Any

from infra.costs import SQS_REQUESTS_PER_FRAME
from infra.template import load_template

FRAMES = 1000


def template_figures() -> tuple[float, str]:
    """The inference function's memory in GB and the GPU workers' default instance type."""
    template = load_template()
    memory_mb = template["Resources"]["InferenceFunction"]["Properties"]["MemorySize"]
    instance_type = template["Parameters"]["GpuInstanceType"]["Default"]
    return float(memory_mb) / 1024, str(instance_type)


def _price(prices: dict[str, Any], name: str) -> float:
    return float(prices["prices"][name]["usd"])


def frame_costs(results: dict[str, Any], prices: dict[str, Any]) -> dict[str, Any]:
    """The cost table; a figure whose measurement is missing is None ("not measured")."""
    memory_gb, instance_type = template_figures()
    instance_key = f"ec2_{instance_type.replace('.', '_')}_hour"
    hourly = _price(prices, instance_key) if instance_key in prices["prices"] else None
    calls = FRAMES * (
        (_price(prices, "s3_put_post_per_thousand") + _price(prices, "s3_get_per_thousand")) / 1e3
        + _price(prices, "sns_publishes_per_million") / 1e6
        + SQS_REQUESTS_PER_FRAME * _price(prices, "sqs_standard_requests_per_million") / 1e6
    )
    far = results.get("per_frame", {}).get("profiles", {}).get("far", {})
    ms_per_frame = far.get("mean_ms")
    lambda_compute = lambda_total = break_even = None
    if ms_per_frame is not None:
        lambda_compute = FRAMES * (
            ms_per_frame / 1000 * memory_gb * _price(prices, "lambda_gb_second_x86")
            + _price(prices, "lambda_requests_per_million") / 1e6
        )
        lambda_total = lambda_compute + calls
        if hourly is not None:
            break_even = hourly / 3600 / (lambda_compute / FRAMES)
    gpu_fps = results.get("gpu", {}).get("frames_per_s")
    gpu_compute = None if not (gpu_fps and hourly) else FRAMES * hourly / (gpu_fps * 3600)
    rekognition = _price(prices, "rekognition_detect_faces_per_thousand") * FRAMES / 1000
    return {
        "prices_as_of": prices["as_of"],
        "region": prices["region"],
        "frames": FRAMES,
        "calls_usd": round(calls, 5),
        "lambda": {
            "ms_per_frame": ms_per_frame,
            "memory_gb": memory_gb,
            "compute_usd": _rounded(lambda_compute),
            "usd": _rounded(lambda_total),
        },
        "gpu": {
            "instance_type": instance_type,
            "usd_per_hour": hourly,
            "frames_per_s": gpu_fps,
            "compute_usd": _rounded(gpu_compute),
            "usd": _rounded(None if gpu_compute is None else gpu_compute + calls),
        },
        "rekognition_usd": rekognition,
        "break_even_fps": None if break_even is None else round(break_even, 1),
        "break_even_needs": f"one {instance_type} holding that many frames/s"
        + ("" if gpu_fps else " (its throughput is not measured)"),
    }


def _rounded(usd: float | None) -> float | None:
    return None if usd is None else round(usd, 5)


def format_costs(costs: dict[str, Any]) -> str:
    """The cost comparison as the lines ``make bench`` prints."""

    def usd(value: float | None) -> str:
        return "not measured" if value is None else f"${value:.4f}"

    lam, gpu = costs["lambda"], costs["gpu"]
    rekognition = costs["rekognition_usd"]
    lines = [
        f"USD per {costs['frames']:,} frames ({costs['region']} prices of"
        f" {costs['prices_as_of']}, infra/prices.json):",
        f"  Lambda ({lam['memory_gb']:g} GB, {lam['ms_per_frame'] or '?'} ms/frame)"
        f"  {usd(lam['usd'])}  (compute and requests {usd(lam['compute_usd'])})",
        f"  GPU {gpu['instance_type']} (${gpu['usd_per_hour']}/h)  {usd(gpu['usd'])}",
        f"  Rekognition DetectFaces  ${rekognition:.2f} (detection alone)",
        f"  S3 and queue calls in both  ${costs['calls_usd']:.4f}",
    ]
    if lam["usd"]:
        lines.append(f"  Lambda is {rekognition / lam['usd']:.0f}x under Rekognition")
    if costs["break_even_fps"] is not None:
        lines.append(
            f"  GPU cheaper than Lambda above {costs['break_even_fps']:,} frames/s,"
            f" given {costs['break_even_needs']}"
        )
    return "\n".join(lines)
