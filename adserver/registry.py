"""Who may call the API (tokens) and what each display is (its store and cameras).

Tokens are stored only as SHA-256 digests: the registry table can be read without exposing a
usable credential. The local stack seeds it; in AWS an operator provisions it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["operator", "display", "camera"]
ROLES: tuple[Role, ...] = ("operator", "display", "camera")


@dataclass(frozen=True)
class Principal:
    """The caller a token stands for.

    ``subject`` is the display id for a display, "{store}/{camera}" for a camera and a name
    for an operator; ``store`` is the store a display or camera belongs to.
    """

    role: Role
    subject: str
    store: str | None = None


@dataclass(frozen=True)
class Display:
    """A screen in a store and the cameras that watch its audience ("{store}/{camera}")."""

    display_id: str
    store: str
    cameras: tuple[str, ...]


class Registry(Protocol):
    def principal_for_token(self, token: str) -> Principal | None: ...

    def display(self, display_id: str) -> Display | None: ...

    def store_cameras(self, store: str) -> tuple[str, ...] | None:
        """The "{store}/{camera}" cameras of a store's displays; None for an unknown store."""
        ...

    def store_displays(self, store: str) -> tuple[Display, ...]:
        """The store's displays, by id (none for an unknown store)."""
        ...


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DynamoDBRegistry:
    """The registry table from template.yaml (partition key ``pk``)."""

    def __init__(self, table: Any) -> None:
        """``table`` is a boto3 ``dynamodb.Table`` resource."""
        self._table = table

    @property
    def table(self) -> Any:
        """The boto3 table, for the operator's tools (infra/admin.py) that write the registry."""
        return self._table

    def principal_for_token(self, token: str) -> Principal | None:
        item = self._table.get_item(Key={"pk": f"token#{token_digest(token)}"}).get("Item")
        if item is None or item.get("role") not in ROLES:
            return None
        return Principal(role=item["role"], subject=item["subject"], store=item.get("store"))

    def display(self, display_id: str) -> Display | None:
        item = self._table.get_item(Key={"pk": f"display#{display_id}"}).get("Item")
        if item is None:
            return None
        return Display(display_id, store=item["store"], cameras=tuple(item.get("cameras", [])))

    def store_cameras(self, store: str) -> tuple[str, ...] | None:
        item = self._table.get_item(Key={"pk": f"store#{store}"}).get("Item")
        if item is None:
            return None
        return tuple(sorted(item.get("cameras", ())))

    def store_displays(self, store: str) -> tuple[Display, ...]:
        # The store item lists its displays' ids (GetItem only: the ad server may not scan).
        item = self._table.get_item(Key={"pk": f"store#{store}"}).get("Item") or {}
        found = (self.display(display_id) for display_id in sorted(item.get("displays", ())))
        return tuple(d for d in found if d is not None and d.store == store)

    def add_token(self, token: str, principal: Principal) -> None:
        item = {"pk": f"token#{token_digest(token)}", "role": principal.role}
        item["subject"] = principal.subject
        if principal.store is not None:
            item["store"] = principal.store
        self._table.put_item(Item=item)

    def add_display(self, display: Display) -> None:
        self._table.put_item(
            Item={
                "pk": f"display#{display.display_id}",
                "store": display.store,
                "cameras": list(display.cameras),
            }
        )
        # The store item lists its displays and every camera of them, for store-wide reports.
        update: dict[str, Any] = {"UpdateExpression": "SET kind = :kind ADD displays :display"}
        values: dict[str, Any] = {":kind": "store", ":display": {display.display_id}}
        if display.cameras:
            update["UpdateExpression"] += ", cameras :cameras"
            values[":cameras"] = set(display.cameras)
        self._table.update_item(
            Key={"pk": f"store#{display.store}"}, ExpressionAttributeValues=values, **update
        )


@dataclass
class InMemoryRegistry:
    """The same lookups over dicts, for unit tests."""

    principals: dict[str, Principal] = field(default_factory=dict)  # by token digest
    displays: dict[str, Display] = field(default_factory=dict)

    def principal_for_token(self, token: str) -> Principal | None:
        return self.principals.get(token_digest(token))

    def display(self, display_id: str) -> Display | None:
        return self.displays.get(display_id)

    def store_cameras(self, store: str) -> tuple[str, ...] | None:
        displays = [d for d in self.displays.values() if d.store == store]
        if not displays:
            return None
        return tuple(sorted({camera for d in displays for camera in d.cameras}))

    def store_displays(self, store: str) -> tuple[Display, ...]:
        return tuple(sorted((d for d in self.displays.values() if d.store == store), key=str))

    def add_token(self, token: str, principal: Principal) -> None:
        self.principals[token_digest(token)] = principal

    def add_display(self, display: Display) -> None:
        self.displays[display.display_id] = display
