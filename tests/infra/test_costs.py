"""infra/costs.py and infra/prices.json: the README's cost estimate."""

from __future__ import annotations

from infra.costs import load_prices, monthly_cost


def test_every_price_names_its_source_and_the_file_its_date():
    prices = load_prices()
    assert prices["as_of"] and prices["region"] == "us-east-1"
    for name, entry in prices["prices"].items():
        assert entry["usd"] > 0 and entry["source"].startswith("https://aws.amazon.com/"), name


def test_the_bill_grows_with_the_stores_and_every_service_costs_something():
    prices = load_prices()
    small, large = monthly_cost(10, prices), monthly_cost(1000, prices)
    assert all(line.usd > 0 for line in small)
    # Per-request services scale with the stores; alarms, dashboard and image are fixed, and
    # X-Ray records the first request of each second, then only 5 % of the rest.
    assert 80 < sum(x.usd for x in large) / sum(x.usd for x in small) <= 100
