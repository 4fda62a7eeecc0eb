"""The local moto: item-level transaction rollback, and queries that read one partition."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import StreamRecord, Table

from infra.bench_next_ad import create_table
from infra.local_moto import forget_dynamodb_items, use_item_level_transactions
from tests.conftest import REGION


@pytest.fixture
def tables(aws: None) -> Iterator[tuple[Any, Any]]:
    moto_query = Table.query
    original = use_item_level_transactions()
    try:
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        yield (
            create_table(dynamodb, "ImpressionsTable", "impressions"),
            create_table(dynamodb, "ObservationsTable", "observations"),  # has a stream
        )
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        Table.query = moto_query  # type: ignore[method-assign]


def put(table: Any, **item: Any) -> dict[str, Any]:
    return {"Put": {"TableName": table.name, "Item": item}}


def test_a_failed_transaction_puts_back_exactly_what_it_changed(tables: tuple[Any, Any]) -> None:
    impressions, observations = tables
    client = impressions.meta.client
    # GIVEN one impression row, and an observation in the streamed table
    impressions.put_item(Item={"store": "s", "sort_key": "a", "n": 1})
    observations.put_item(Item={"camera_key": "s/c", "captured_at_ms": 1, "faces": 0})
    stream_before = _stream_length(observations.name)
    # WHEN a transaction updates the row, adds one, adds an observation, then fails a condition
    writes = [
        {
            "Update": {
                "TableName": impressions.name,
                "Key": {"store": "s", "sort_key": "a"},
                "UpdateExpression": "SET n = :two",
                "ExpressionAttributeValues": {":two": 2},
            }
        },
        put(impressions, store="s", sort_key="b"),
        put(observations, camera_key="s/c", captured_at_ms=2),
        {
            "Put": {
                "TableName": impressions.name,
                "Item": {"store": "s", "sort_key": "c"},
                "ConditionExpression": "attribute_exists(sort_key)",
            }
        },
    ]
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=writes)
    # THEN it is cancelled with the reasons AWS gives, and nothing it wrote is left
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "None, None, None, ConditionalCheckFailed" in str(refused.value)
    rows = impressions.scan()["Items"]
    assert [(row["sort_key"], row["n"]) for row in rows] == [("a", 1)]
    assert len(observations.scan()["Items"]) == 1
    assert _stream_length(observations.name) == stream_before  # no record of the undone put


def test_a_transaction_that_succeeds_writes_everything(tables: tuple[Any, Any]) -> None:
    impressions, observations = tables
    writes = [
        put(impressions, store="s", sort_key="a"),
        put(observations, camera_key="s/c", captured_at_ms=2),
    ]
    impressions.meta.client.transact_write_items(TransactItems=writes)
    assert len(impressions.scan()["Items"]) == 1 and len(observations.scan()["Items"]) == 1


def test_two_writes_to_one_item_are_refused_as_aws_does(tables: tuple[Any, Any]) -> None:
    impressions, _ = tables
    one = put(impressions, store="s", sort_key="a")
    with pytest.raises(ClientError) as refused:
        impressions.meta.client.transact_write_items(TransactItems=[one, one])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert impressions.scan()["Items"] == []


def test_a_transaction_costs_the_same_with_thousands_of_items(tables: tuple[Any, Any]) -> None:
    # GIVEN 4,000 impressions (moto's own transaction copied them all each time: 332 ms)
    impressions, _ = tables
    with impressions.batch_writer() as batch:
        for index in range(4000):
            batch.put_item(Item={"store": "s", "sort_key": f"{index:06d}", "pad": "x" * 200})
    client = impressions.meta.client
    # WHEN 20 conditional transactions run THEN each takes milliseconds, not a table copy
    started = time.perf_counter()
    for index in range(20):
        row = put(impressions, store="s", sort_key=f"new-{index}")
        row["Put"]["ConditionExpression"] = "attribute_not_exists(sort_key)"
        client.transact_write_items(TransactItems=[row])
    per_transaction_ms = (time.perf_counter() - started) * 1000 / 20
    assert per_transaction_ms < 100, per_transaction_ms


def _stream_length(table_name: str) -> int:
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends["123456789012"][REGION].get_table(table_name)
    return len(table.stream_shard.items) if table.stream_shard is not None else 0


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": Key("store").eq("s") & Key("sort_key").gt("0000000050")},
    {"KeyConditionExpression": Key("store").eq("s"), "Limit": 7},
    {
        "KeyConditionExpression": Key("store").eq("s")
        & Key("sort_key").between("00", "0000000030"),
        "ScanIndexForward": False,
        "Limit": 5,
    },
    {"KeyConditionExpression": Key("store").eq("s") & Key("sort_key").begins_with("plays#")},
    {
        "KeyConditionExpression": Key("store").eq("s") & Key("sort_key").lt("0000000090"),
        "FilterExpression": Attr("n").gt(40),
        "Limit": 30,
    },
    {"KeyConditionExpression": Key("store").eq("s"), "ProjectionExpression": "sort_key"},
    {"KeyConditionExpression": Key("store").eq("nobody")},
]


def test_a_partition_query_answers_as_motos_own(aws: None) -> None:
    # GIVEN a table with two partitions, as the impressions table holds stores
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = create_table(dynamodb, "ImpressionsTable", "queried")
    with table.batch_writer() as batch:
        for index in range(100):
            batch.put_item(Item={"store": "s", "sort_key": f"{index:010d}", "n": index})
            batch.put_item(Item={"store": "t", "sort_key": f"{index:010d}", "n": index})
        batch.put_item(Item={"store": "s", "sort_key": "plays#d1", "n": -1})
    # WHEN each query is asked of moto's own query and of the partition query
    moto_answers = [table.query(**query) for query in QUERIES]
    moto_query = Table.query
    original = use_item_level_transactions()
    try:
        ours = [table.query(**query) for query in QUERIES]
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        Table.query = moto_query  # type: ignore[method-assign]
    # THEN the items, counts and page keys are the same
    for query, theirs, mine in zip(QUERIES, moto_answers, ours, strict=True):
        for key in ("Items", "Count", "ScannedCount", "LastEvaluatedKey"):
            assert mine.get(key) == theirs.get(key), (query, key)


def test_moto_keeps_no_copy_of_the_items_it_served(tables: tuple[Any, Any]) -> None:
    # GIVEN moto told to forget DynamoDB items (it lists every model object it ever made)
    impressions, _ = tables
    forget_dynamodb_items()
    try:
        # WHEN an item is written, rewritten and read a hundred times
        for index in range(100):
            impressions.put_item(Item={"store": "s", "sort_key": "a", "n": index})
            impressions.query(KeyConditionExpression=Key("store").eq("s"))
        # THEN moto holds no list of them: the table's one item is all that stays
        assert len(Item.instances_tracked) == 0  # type: ignore[attr-defined]
        assert impressions.get_item(Key={"store": "s", "sort_key": "a"})["Item"]["n"] == 99
    finally:
        Item.instances_tracked = []  # type: ignore[attr-defined]
        StreamRecord.instances_tracked = []  # type: ignore[attr-defined]
