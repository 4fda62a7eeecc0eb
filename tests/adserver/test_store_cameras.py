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
