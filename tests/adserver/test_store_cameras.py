"""The registry knows each store's cameras (for store reports and upload-url checks)."""

from __future__ import annotations

from typing import Any

from adserver.registry import Display, DynamoDBRegistry, InMemoryRegistry


def registry_table(dynamodb: Any) -> Any:
    return dynamodb.create_table(
        TableName="registry",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )


def test_store_cameras_collects_the_cameras_of_every_display(dynamodb: Any) -> None:
    for registry in (DynamoDBRegistry(registry_table(dynamodb)), InMemoryRegistry()):
        # GIVEN two displays in one store sharing a camera, and one in another store
        registry.add_display(Display("d1", "demo-store", ("demo-store/cam-1", "demo-store/cam-2")))
        registry.add_display(Display("d2", "demo-store", ("demo-store/cam-2",)))
        registry.add_display(Display("n1", "north-store", ()))
        # THEN each store lists its cameras once; an unknown store is None
        assert registry.store_cameras("demo-store") == ("demo-store/cam-1", "demo-store/cam-2")
        assert registry.store_cameras("north-store") == ()
        assert registry.store_cameras("nowhere") is None


def test_store_displays_lists_each_display_of_the_store(dynamodb: Any) -> None:
    for registry in (DynamoDBRegistry(registry_table(dynamodb)), InMemoryRegistry()):
        # GIVEN two displays in one store and one in another
        d1 = Display("d1", "demo-store", ("demo-store/cam-1",))
        d2 = Display("d2", "demo-store", ("demo-store/cam-2",))
        registry.add_display(d2)
        registry.add_display(d1)
        registry.add_display(Display("n1", "north-store", ()))
        # THEN the store lists its own displays by id, an unknown store none
        assert registry.store_displays("demo-store") == (d1, d2)
        assert registry.store_displays("nowhere") == ()
