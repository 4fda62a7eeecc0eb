"""moto in server mode as a process of its own: the local stand-in for AWS.

The local stack (infra/stack.py) runs it apart from the workers and the ad server so that a
worker can die, or moto can be paused, without taking the others with it.

Every moto model object is kept forever in its class's ``instances_tracked`` list (for
moto's dashboard), so every DynamoDB item moto ever built stays in memory: each version of
an item written, each copy a query returns and each copy its transactions make. In the
stack that was most of moto's 13 GB (issue 23); ``forget_dynamodb_items`` stops it for
DynamoDB items and stream records.

moto's ``TransactWriteItems`` deep-copies every table a transaction touches, to roll back
if one of its writes fails: 7.6 ms with an empty table, 332 ms with 4,000 items, and the
running stack grew to 13 GB (issue 23). Every impression and every closed track is such a
transaction, so this process replaces it with one that copies only the items the
transaction names (``item_level_transactions``); AWS itself needs none of this.

Its ``Query`` also walks every item of the table and sizes every item of the partition
before it compares their range keys, so next-ad's query for the last 10 s of a camera grew
with the camera's month of frames; ``partition_query`` reads only the partition and sizes
only what it returns (queries of an index, with a start key or several key attributes are
left to moto).

    python -m infra.local_moto --port 4566 --ready-file .local/run/moto.ready
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.dynamodb.comparisons import get_comparison_func, get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, StreamRecord, Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from infra.local_lambda import exit_with_parent

TRANSACTION_OPERATIONS = ("ConditionCheck", "Put", "Delete", "Update")


@dataclass
class _ItemBefore:
    """One item a transaction names, as it was before (None: absent), to put back."""

    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Item | None
    stream_records: int  # the table's stream length before, for the records to drop

    def restore(self) -> None:
        if self.range_key is not None:
            partition = self.table.items[self.hash_key]
            if self.item is None:
                partition.pop(self.range_key, None)
            else:
                partition[self.range_key] = self.item
        elif self.item is None:
            self.table.items.pop(self.hash_key, None)
        else:
            self.table.items[self.hash_key] = self.item  # type: ignore[assignment]
        shard = self.table.stream_shard
        if shard is not None:
            del shard.items[self.stream_records :]


def _items_before(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> list[_ItemBefore]:
    """Copies of the items ``transact_items`` name; one the backend cannot resolve (an unknown
    table, a missing key) is skipped: moto's own loop refuses that operation."""
    before: list[_ItemBefore] = []
    for entry in transact_items:
        try:
            (op_type, op), *_ = entry.items()
            table = backend.get_table(op["TableName"])
            if op_type == "Put":
                attributes = op["Item"]
                names = [table.hash_key_attr, table.range_key_attr]
                key = {name: attributes[name] for name in names if name is not None}
            else:
                key = op["Key"]
            hash_key, range_key = backend.get_keys_value(table, key)
        except Exception:  # moto's loop below refuses it as AWS would
            continue
        current = table.get_item(hash_key, range_key)
        shard = table.stream_shard
        records = len(shard.items) if shard is not None else 0
        before.append(_ItemBefore(table, hash_key, range_key, copy.deepcopy(current), records))
    return before


def item_level_transactions(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.1's ``DynamoDBBackend.transact_write_items``, rolling back by restoring the
    items the transaction names instead of whole-table copies (same checks, same errors)."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    before = _items_before(backend, transact_items)

    def roll_back() -> None:
        for item in reversed(before):
            item.restore()

    targets: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for entry in transact_items:
        original: dict[str, Any] | None = None
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(entry.items()))
            if op_type not in TRANSACTION_OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                table = backend.get_table(table_name)
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            target = (str(table_name), str(key))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)
            current = backend.get_item(table_name, key)
            if condition is not None and not _holds(condition, names, values, current):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    original = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=original)
            where: dict[str, Any] = {
                "condition_expression": condition,
                "expression_attribute_names": names,
                "expression_attribute_values": values,
            }
            if op_type == "Put":
                backend.put_item(table_name, op["Item"], **where)
            elif op_type == "Delete":
                backend.delete_item(table_name, key, **where)
            elif op_type == "Update":
                backend.update_item(
                    table_name, key, update_expression=op["UpdateExpression"], **where
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            roll_back()
            raise
        except ConditionalCheckFailed as failed:
            errors.append(("ConditionalCheckFailed", str(failed.message), original))
        except Exception as error:  # as moto: any failure cancels the whole transaction
            errors.append((type(error).__name__, str(error), original))
    if any(code is not None for code, _, _ in errors):
        roll_back()
        raise TransactionCanceledException(errors)


def _holds(condition: str, names: Any, values: Any, current: Item | None) -> bool:
    return bool(get_filter_expression(condition, names, values).expr(current))


class _Forgotten(list[Any]):
    """An ``instances_tracked`` list that keeps nothing."""

    def append(self, instance: Any) -> None:
        pass


def forget_dynamodb_items() -> None:
    """Stop moto keeping a reference to every DynamoDB item and stream record it creates
    (the tables keep the ones that are stored; copies are then freed)."""
    for model in (Item, StreamRecord):
        model.instances_tracked = _Forgotten()  # type: ignore[union-attr]


def use_item_level_transactions() -> Callable[..., None]:
    """Make every DynamoDB backend of this process roll transactions back item by item and
    query only the partition asked for; returns moto's own transaction method (a test puts
    it back)."""
    original: Callable[..., None] = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = item_level_transactions  # type: ignore[method-assign, assignment]
    if not getattr(Table.query, "partition_only", False):
        Table.query = _partition_query(Table.query)  # type: ignore[method-assign]
    return original


def _partition_query(moto_query: Callable[..., Any]) -> Callable[..., Any]:
    def partition_query(
        table: Table,
        hash_key: DynamoType | None,
        range_comparison: str | None,
        range_objs: list[DynamoType],
        limit: int,
        exclusive_start_key: dict[str, Any] | None,
        scan_index_forward: bool,
        projection_expressions: list[list[str]] | None,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[Any] | None = None,
        range_key_conditions: list[Any] | None = None,
        **filter_kwargs: Any,
    ) -> tuple[list[Item], int, dict[str, Any] | None]:
        """moto's ``Table.query`` for the plain case: one partition of a table with a range
        key, no index, no start key; the same results, limits and errors."""
        if (
            index_name
            or exclusive_start_key
            or filter_kwargs
            or hash_key is None
            or table.range_key_attr is None
            or len(hash_key_conditions or ()) > 1
            or len(range_key_conditions or ()) > 1
        ):
            return moto_query(
                table,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions,
                range_key_conditions,
                **filter_kwargs,
            )
        partition = table.items.get(hash_key, {})
        stored = [item for item in partition.values() if isinstance(item, Item)]
        if range_comparison is None:
            matching = stored
        else:  # moto's DynamoType.compare, with the bounds cast once rather than per item
            holds = get_comparison_func(range_comparison)
            bounds = [bound.cast_value for bound in range_objs]
            matching = [item for item in stored if holds(item.range_key.cast_value, *bounds)]  # type: ignore[union-attr]
        matching.sort(key=lambda item: item.range_key, reverse=not scan_index_forward)  # type: ignore[arg-type, return-value]
        results: list[Item] = []
        size = 0
        last_evaluated_key = None
        for item in matching:
            if results and (len(results) == limit or size + item.size() > RESULT_SIZE_LIMIT):
                last_evaluated_key = table._get_last_evaluated_key(results[-1], None)
                break
            results.append(item)
            size += item.size()
        scanned = len(results)
        results = copy.deepcopy(results)
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expressions:
            results = [item.project(projection_expressions) for item in results]
        return results, scanned, last_evaluated_key

    partition_query.partition_only = True  # type: ignore[attr-defined]
    return partition_query


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local_moto", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566, help="0: any free port")
    parser.add_argument("--ready-file", type=Path, help="written with the endpoint once listening")
    parser.add_argument(
        "--whole-table-transactions",
        action="store_true",
        help="keep moto's own TransactWriteItems, which copies whole tables (to compare)",
    )
    args = parser.parse_args(argv)
    exit_with_parent()  # AWS does not outlive the stack that stands in for it
    forget_dynamodb_items()
    if not args.whole_table_transactions:
        use_item_level_transactions()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    try:
        server = make_server(
            args.host,
            args.port,
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
        )
    except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
        print(f"moto: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    host, port = str(server.server_address[0]), int(server.server_address[1])
    signal.signal(signal.SIGTERM, _interrupt)
    if args.ready_file is not None:
        args.ready_file.write_text(json.dumps({"endpoint_url": f"http://{host}:{port}"}))
    print(f"moto listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
