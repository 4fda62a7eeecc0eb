"""Every item of a paginated DynamoDB Query or Scan, whatever the number of pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any


def all_items(call: Callable[..., Mapping[str, Any]], **request: Any) -> Iterator[dict[str, Any]]:
    """The items of ``call(**request)`` (a table's ``query`` or ``scan``), page after page."""
    while True:
        page = call(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}
