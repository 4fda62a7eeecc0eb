"""Operate a stack: register stores, displays and cameras, issue their tokens, manage the catalog.

    python -m infra.admin --local store create corner-shop --time-zone Europe/Paris
    python -m infra.admin --stack-name smart-displays display create door-1 --store corner-shop \\
        --camera door-cam
    python -m infra.admin --stack-name smart-displays token issue display door-1

``--local`` works on the running local stack (.local/outputs.json); ``--stack-name`` on a
deployed one, with the usual AWS credentials (environment, profile or role), reading the
table and bucket names from the stack's outputs; ``--registry-table`` and friends name them
directly. A token is printed once and only its SHA-256 is stored (adserver/registry.py).

What lives where: the registry table holds each store (its cameras and each camera's
``min_face_px``), each display (its store and cameras) and the token digests; a store's time
zone and children's-content switch live in the catalog's ``stores`` section, because the catalog
is what the ad server reads them from (adserver/catalog.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from pydantic import ValidationError

from adserver.catalog import (
    Catalog,
    CatalogError,
    S3CatalogSource,
    StoreSettings,
    load_catalog,
    seed_catalog,
)
from adserver.registry import ROLES, Display, DynamoDBRegistry, Principal, Role, token_digest
from infra.console import DefaultsHelpFormatter, EscapingWriter, printable, run_main
from infra.outputs import DEFAULT_OUTPUTS, StackOutputs
from lambdas.dynamodb_pages import all_items
from lambdas.frame_keys import camera_key, is_valid_id

CATALOG_KEY = "catalog.json"  # template.yaml: the ad server's CATALOG_KEY
DEFAULT_STACK_NAME = "smart-displays"
# 24 random bytes: 192 bits, far beyond guessing, and URL-safe for the player's #token=.
TOKEN_BYTES = 24
# A face narrower than this carries too few pixels for age and gender; one wider than this
# is a camera pointed at a single face, not a store. The predictor's default is 24 px.
MIN_FACE_PX_RANGE = (8.0, 1024.0)
# Where a person puts a token the tools read instead of taking it on the command line (ps).
DISPLAY_TOKEN_ENV = "SMART_DISPLAYS_DISPLAY_TOKEN"


class AdminError(Exception):
    """A request the registry or catalog refuses; the message is the one line we print."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


# --------------------------------------------------------------------------- where things are
@dataclass(frozen=True)
class StackTargets:
    """The names of what the admin commands write, and how to reach them."""

    registry_table: str
    catalog_bucket: str | None = None
    catalog_key: str = CATALOG_KEY
    adserver_url: str | None = None
    region: str | None = None
    endpoint_url: str | None = None  # the local stack's moto server; None for AWS


def local_targets(outputs_path: Path = DEFAULT_OUTPUTS) -> StackTargets:
    """The running local stack's names and moto endpoint, from its outputs file."""
    try:
        document = StackOutputs.read(outputs_path).document
    except FileNotFoundError as exc:
        raise AdminError(str(exc)) from None
    return StackTargets(
        registry_table=str(document["registry_table"]),
        catalog_bucket=document.get("catalog_bucket"),
        adserver_url=document.get("adserver_url"),
        region=str(document["region"]),
        endpoint_url=str(document["endpoint_url"]),
    )


def deployed_targets(stack_name: str, cloudformation: Any) -> StackTargets:
    """A deployed stack's names, from its CloudFormation outputs (template.yaml, Outputs)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise AdminError(
            f"stack {stack_name!r}: {exc.response['Error'].get('Message', exc)}"
            " (check --stack-name and --region)"
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "RegistryTableName" not in outputs:
        raise AdminError(f"stack {stack_name!r} has no RegistryTableName output; is it deployed?")
    return StackTargets(
        registry_table=outputs["RegistryTableName"],
        catalog_bucket=outputs.get("CatalogBucketName"),
        adserver_url=outputs.get("AdServerUrl"),
        region=cloudformation.meta.region_name,
    )


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class StoreRecord:
    store: str
    cameras: tuple[str, ...]  # camera names, without the store
    min_face_px: dict[str, float] = field(default_factory=dict)
    # From the catalog; None when the catalog does not name the store (UTC, no children).
    settings: StoreSettings | None = None


@dataclass(frozen=True)
class CameraRecord:
    store: str
    camera: str
    displays: tuple[str, ...]
    min_face_px: float | None  # None: the predictor's default profile


@dataclass(frozen=True)
class IssuedToken:
    """A new token and whom it stands for; the only time the plain token is seen."""

    token: str
    principal: Principal
    revoked: int = 0  # older tokens of the same principal revoked with it (rotate)


@dataclass(frozen=True)
class TokenRecord:
    digest: str
    principal: Principal
    issued_at_ms: int | None


@dataclass(frozen=True)
class CatalogUpload:
    catalog: Catalog
    kept_store_settings: tuple[str, ...]  # registered stores whose settings were carried over


# --------------------------------------------------------------------------- the operations
class Admin:
    """Registry and catalog operations; each refuses with an AdminError that says why.

    ``registry_table`` is a boto3 ``dynamodb.Table``; ``s3`` and ``catalog_bucket`` are
    needed only by the catalog and store-settings operations.
    """

    def __init__(
        self,
        registry_table: Any,
        *,
        s3: Any = None,
        catalog_bucket: str | None = None,
        catalog_key: str = CATALOG_KEY,
        adserver_url: str | None = None,
        make_token: Callable[[], str] = new_token,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = registry_table
        self._registry = DynamoDBRegistry(registry_table)
        self._s3 = s3
        self._catalog_bucket = catalog_bucket
        self._catalog_key = catalog_key
        self._adserver_url = adserver_url
        self._make_token = make_token
        self._clock = clock

    @classmethod
    def for_targets(cls, targets: StackTargets, session: Any) -> Admin:
        """Clients for ``targets`` from a boto3 session (moto's endpoint for the local stack)."""
        endpoint = {"endpoint_url": targets.endpoint_url} if targets.endpoint_url else {}
        return cls(
            session.resource("dynamodb", **endpoint).Table(targets.registry_table),
            s3=session.client("s3", **endpoint),
            catalog_bucket=targets.catalog_bucket,
            catalog_key=targets.catalog_key,
            adserver_url=targets.adserver_url,
        )

    # ------------------------------------------------------------------ stores
    def create_store(
        self, store: str, settings: StoreSettings | None = None, *, exist_ok: bool = False
    ) -> None:
        """Register a store; with ``settings``, also write its time zone and children's
        switch into the catalog. An existing store is an error unless ``exist_ok``."""
        _check_id("store", store)
        try:
            self._table.put_item(
                Item={"pk": f"store#{store}", "kind": "store", "min_face_px": {}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise
            if not exist_ok:
                raise AdminError(f"store {store!r} already exists") from None
        if settings is not None:
            self.set_store_settings(store, settings)

    def set_store_settings(self, store: str, settings: StoreSettings) -> Catalog:
        """Put a registered store's settings into the catalog (the seed catalog until one was
        uploaded, as the ad server serves it) and upload it; the catalog as uploaded."""
        self._require_store(store)
        current = self.read_catalog() or seed_catalog()
        stores = {**current.stores, store: settings}
        catalog = current.model_copy(update={"stores": stores})
        self._catalog_source().put(catalog)
        return catalog

    def list_stores(self) -> list[StoreRecord]:
        """Every registered store with its cameras, and its settings where a catalog is known."""
        catalog = self._current_catalog_if_reachable()
        records = []
        for item in self._scan("store#"):
            store = item["pk"].removeprefix("store#")
            records.append(
                StoreRecord(
                    store=store,
                    cameras=tuple(sorted(c.split("/", 1)[1] for c in item.get("cameras", ()))),
                    min_face_px={k: float(v) for k, v in (item.get("min_face_px") or {}).items()},
                    settings=catalog.stores.get(store) if catalog is not None else None,
                )
            )
        return sorted(records, key=lambda record: record.store)

    # ------------------------------------------------------------------ cameras
    def create_camera(
        self,
        store: str,
        camera: str,
        *,
        min_face_px: float | None = None,
        exist_ok: bool = False,
    ) -> None:
        """Register a camera in its store, so its frames are accepted and its token can be
        issued; optionally with the smallest face it must find."""
        _check_id("camera", camera)
        self._require_store(store)
        key = camera_key(store, camera)
        try:
            self._table.update_item(
                Key={"pk": f"store#{store}"},
                UpdateExpression="ADD cameras :camera",
                ConditionExpression="NOT contains(cameras, :key)",
                ExpressionAttributeValues={":camera": {key}, ":key": key},
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise
            if not exist_ok:
                raise AdminError(f"camera {key!r} already exists") from None
        if min_face_px is not None:
            self.set_min_face_px(store, camera, min_face_px)

    def set_min_face_px(self, store: str, camera: str, min_face_px: float | None) -> None:
        """Set (or with None, clear) the smallest face a camera must find, in pixels wide;
        the inference function reads it from the store item (lambdas/inference/cameras.py)."""
        self._require_camera(store, camera)
        names = {"#camera": camera}
        if min_face_px is None:
            try:
                self._table.update_item(
                    Key={"pk": f"store#{store}"},
                    UpdateExpression="REMOVE min_face_px.#camera",
                    ConditionExpression="attribute_exists(min_face_px)",
                    ExpressionAttributeNames=names,
                )
            except ClientError as exc:
                if _error_code(exc) != "ConditionalCheckFailedException":
                    raise  # no map at all: the camera already uses the default
            return
        low, high = MIN_FACE_PX_RANGE
        if not low <= min_face_px <= high:
            raise AdminError(f"min_face_px must be between {low:g} and {high:g}, got {min_face_px}")
        value = Decimal(str(min_face_px))
        try:
            self._table.update_item(
                Key={"pk": f"store#{store}"},
                UpdateExpression="SET min_face_px.#camera = :px",
                ConditionExpression="attribute_exists(min_face_px)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":px": value},
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise
            # A store item written before the map existed: create the map with this entry.
            self._table.update_item(
                Key={"pk": f"store#{store}"},
                UpdateExpression="SET min_face_px = :map",
                ExpressionAttributeValues={":map": {camera: value}},
            )

    def list_cameras(self, store: str | None = None) -> list[CameraRecord]:
        """Every registered camera (of one store, if given), with the displays it watches for."""
        displays = self.list_displays(store)
        records = []
        for record in self.list_stores():
            if store is not None and record.store != store:
                continue
            for camera in record.cameras:
                key = camera_key(record.store, camera)
                records.append(
                    CameraRecord(
                        store=record.store,
                        camera=camera,
                        displays=tuple(d.display_id for d in displays if key in d.cameras),
                        min_face_px=record.min_face_px.get(camera),
                    )
                )
        return records

    # ------------------------------------------------------------------ displays
    def create_display(
        self,
        display_id: str,
        store: str,
        cameras: Sequence[str] = (),
        *,
        exist_ok: bool = False,
    ) -> Display:
        """Register a display in a store with the cameras that watch its audience (camera
        names; each is registered in the store if it is not yet)."""
        _check_id("display", display_id)
        self._require_store(store)
        for camera in cameras:
            self.create_camera(store, camera, exist_ok=True)
        display = Display(display_id, store, tuple(camera_key(store, c) for c in cameras))
        try:
            self._table.put_item(
                Item={
                    "pk": f"display#{display_id}",
                    "store": store,
                    "cameras": list(display.cameras),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise
            existing = self._registry.display(display_id)
            if not exist_ok or existing is None or existing.store != store:
                where = f" in store {existing.store!r}" if existing else ""
                raise AdminError(f"display {display_id!r} already exists{where}") from None
            # Adding cameras to a display that exists keeps the ones it has.
            merged = tuple(dict.fromkeys((*existing.cameras, *display.cameras)))
            self._table.update_item(
                Key={"pk": f"display#{display_id}"},
                UpdateExpression="SET cameras = :cameras",
                ExpressionAttributeValues={":cameras": list(merged)},
            )
            display = Display(display_id, store, merged)
        # The store item lists its displays, which the ad server reads with GetItem alone.
        self._table.update_item(
            Key={"pk": f"store#{store}"},
            UpdateExpression="ADD displays :display",
            ExpressionAttributeValues={":display": {display_id}},
        )
        return display

    def list_displays(self, store: str | None = None) -> list[Display]:
        displays = [
            Display(
                item["pk"].removeprefix("display#"),
                store=item["store"],
                cameras=tuple(item.get("cameras", ())),
            )
            for item in self._scan("display#")
        ]
        return sorted(
            (d for d in displays if store is None or d.store == store),
            key=lambda d: (d.store, d.display_id),
        )

    def player_url(self, display_id: str, token: str | None = None) -> str:
        """The page a display's browser opens; the token rides in the fragment, which
        browsers never send to a server or write to its logs."""
        if self._registry.display(display_id) is None:
            raise AdminError(f"display {display_id!r} is not registered")
        if not self._adserver_url:
            raise AdminError("the stack's ad server URL is unknown; pass --adserver-url")
        fragment = token if token else "DISPLAY_TOKEN"
        return f"{self._adserver_url.rstrip('/')}/display/{display_id}#token={fragment}"

    # ------------------------------------------------------------------ tokens
    def issue_token(self, role: Role, subject: str) -> IssuedToken:
        """A new token for an operator (any name), a display (its id) or a camera
        ("store/camera"); older tokens of the same principal keep working."""
        principal = self._principal(role, subject)
        token = self._make_token()
        item: dict[str, Any] = {
            "pk": f"token#{token_digest(token)}",
            "role": principal.role,
            "subject": principal.subject,
            "issued_at_ms": int(self._clock() * 1000),
        }
        if principal.store is not None:
            item["store"] = principal.store
        self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        return IssuedToken(token, principal)

    def rotate_token(self, role: Role, subject: str) -> IssuedToken:
        """A new token for the principal; every older one stops working at once."""
        issued = self.issue_token(role, subject)
        keep = token_digest(issued.token)
        revoked = self._delete_tokens(
            t for t in self.list_tokens(role, subject) if t.digest != keep
        )
        return IssuedToken(issued.token, issued.principal, revoked=revoked)

    def revoke_tokens(self, role: Role, subject: str) -> int:
        """Revoke every token of the principal; how many there were."""
        return self._delete_tokens(self.list_tokens(role, subject))

    def list_tokens(
        self, role: Role | None = None, subject: str | None = None
    ) -> list[TokenRecord]:
        """The stored digests (never tokens) with whom they stand for, oldest first."""
        records = []
        for item in self._scan("token#"):
            if (role and item.get("role") != role) or (subject and item.get("subject") != subject):
                continue
            issued = item.get("issued_at_ms")
            records.append(
                TokenRecord(
                    digest=item["pk"].removeprefix("token#"),
                    principal=Principal(item["role"], item["subject"], item.get("store")),
                    issued_at_ms=int(issued) if issued is not None else None,
                )
            )
        return sorted(records, key=lambda r: (r.issued_at_ms or 0, r.digest))

    def _delete_tokens(self, tokens: Iterable[TokenRecord]) -> int:
        count = 0
        for record in tokens:
            self._table.delete_item(Key={"pk": f"token#{record.digest}"})
            count += 1
        return count

    def _principal(self, role: str, subject: str) -> Principal:
        if role == "operator":
            _check_id("operator name", subject)
            return Principal("operator", subject)
        if role == "display":
            display = self._registry.display(subject)
            if display is None:
                raise AdminError(f"display {subject!r} is not registered")
            return Principal("display", subject, display.store)
        if role == "camera":
            store, _, camera = subject.partition("/")
            self._require_camera(store, camera)
            return Principal("camera", camera_key(store, camera), store)
        raise AdminError(f"role must be one of {', '.join(ROLES)}, got {role!r}")

    # ------------------------------------------------------------------ catalog
    def read_catalog(self) -> Catalog | None:
        """The catalog in the bucket; None if none was uploaded (the ad server then serves
        the seed catalog). A document that fails validation is an AdminError."""
        bucket = self._require_catalog_bucket()
        try:
            body = self._s3.get_object(Bucket=bucket, Key=self._catalog_key)["Body"].read()
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        try:
            return load_catalog(body)
        except CatalogError as error:
            where = f"s3://{bucket}/{self._catalog_key}"
            raise AdminError(f"{where} is invalid: {'; '.join(error.problems)}") from None

    def catalog_warnings(self, catalog: Catalog) -> list[str]:
        """What a valid catalog gets wrong about this registry: settings for stores that are
        not registered, registered stores without settings."""
        registered = {record.store for record in self.list_stores()}
        warnings = [
            f"stores.{store}: not a registered store (python -m infra.admin store list)"
            for store in sorted(set(catalog.stores) - registered)
        ]
        warnings += [
            f"store {store!r} has no settings in the catalog: it runs in UTC without"
            " children's content"
            for store in sorted(registered - set(catalog.stores))
        ]
        return warnings

    def upload_catalog(self, catalog: Catalog) -> CatalogUpload:
        """Upload a validated catalog. Registered stores it has no settings for keep the
        ones the current catalog gives them, so an upload never undoes ``store create``."""
        upload = self.catalog_as_uploaded(catalog)
        self._catalog_source().put(upload.catalog)
        return upload

    def catalog_as_uploaded(self, catalog: Catalog) -> CatalogUpload:
        """``catalog`` as ``upload_catalog`` would store it, with the settings it would keep;
        uploads nothing. ``catalog validate`` warns about this, not the bare file: a store
        created with ``--time-zone Europe/Paris`` keeps that zone when the file omits it."""
        current = self._current_catalog_if_reachable() or seed_catalog()
        registered = {record.store for record in self.list_stores()}
        kept = {
            store: settings
            for store, settings in current.stores.items()
            if store in registered and store not in catalog.stores
        }
        if kept:
            catalog = catalog.model_copy(update={"stores": {**catalog.stores, **kept}})
        return CatalogUpload(catalog, tuple(sorted(kept)))

    def _catalog_source(self) -> S3CatalogSource:
        return S3CatalogSource(self._s3, self._require_catalog_bucket(), self._catalog_key)

    def _current_catalog_if_reachable(self) -> Catalog | None:
        if self._s3 is None or not self._catalog_bucket:
            return None
        return self.read_catalog() or seed_catalog()

    def _require_catalog_bucket(self) -> str:
        if self._s3 is None or not self._catalog_bucket:
            raise AdminError("the stack's catalog bucket is unknown; pass --catalog-bucket")
        return self._catalog_bucket

    # ------------------------------------------------------------------ registry reads
    def _require_store(self, store: str) -> None:
        if self._registry.store_cameras(store) is None:
            raise AdminError(
                f"store {store!r} is not registered (python -m infra.admin store create)"
            )

    def _require_camera(self, store: str, camera: str) -> None:
        cameras = self._registry.store_cameras(store)
        if cameras is None:
            raise AdminError(f"store {store!r} is not registered")
        if camera_key(store, camera) not in cameras:
            raise AdminError(f"camera {camera!r} is not registered in store {store!r}")

    def _scan(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Items whose key starts with ``prefix``; the registry is small (items per store:
        one, plus displays, cameras' tokens), so an operator's scan costs little."""
        from boto3.dynamodb.conditions import Attr

        yield from all_items(self._table.scan, FilterExpression=Attr("pk").begins_with(prefix))


def store_settings(time_zone: str, children_content: bool) -> StoreSettings:
    """Validated store settings; an unknown time zone is an AdminError naming it."""
    try:
        return StoreSettings(time_zone=time_zone, children_content=children_content)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise AdminError(f"--time-zone: {message}") from None


def _check_id(kind: str, value: str) -> None:
    if not is_valid_id(value):
        raise AdminError(
            f"{kind} {value!r}: use 1-64 ASCII letters, digits, '-' or '_', starting with a"
            " letter or digit"
        )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# --------------------------------------------------------------------------- the command line
def _format_ms(ms: int | None) -> str:
    if ms is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def _print_issued(issued: IssuedToken, admin: Admin, out: Any) -> None:
    principal = issued.principal
    print(
        f"{principal.role} token for {principal.subject} (shown once; only its hash is kept):",
        file=out,
    )
    print(f"  {issued.token}", file=out)
    if issued.revoked:
        print(f"revoked {issued.revoked} older token(s) of {principal.subject}", file=out)
    if principal.role == "display":
        # Without a known ad server URL the token alone is what matters.
        with contextlib.suppress(AdminError):
            print(f"player URL: {admin.player_url(principal.subject, issued.token)}", file=out)


def run_command(args: argparse.Namespace, admin: Admin, out: Any = None) -> int:
    """Carry out one parsed command against ``admin``; the exit status."""
    # Ids, subjects and catalog text are stored strings: shown with control characters escaped.
    out = EscapingWriter(out or sys.stdout)
    command = (args.area, args.action)
    if command == ("store", "create"):
        settings = store_settings(args.time_zone, args.children_content)
        admin.create_store(args.store, settings)
        children = "on" if settings.children_content else "off"
        print(f"store {args.store}: {settings.time_zone}, children's content {children}", file=out)
    elif command == ("store", "list"):
        for store in admin.list_stores():
            settings = store.settings or StoreSettings()
            default = "" if store.settings else " (default)"
            children = "on" if settings.children_content else "off"
            print(
                f"{store.store}\t{settings.time_zone}{default}\tchildren {children}\t"
                f"cameras: {', '.join(store.cameras) or '-'}",
                file=out,
            )
    elif command == ("display", "create"):
        display = admin.create_display(args.display, args.store, args.camera)
        cameras = ", ".join(display.cameras) or "none yet"
        print(f"display {display.display_id} in {display.store}; cameras: {cameras}", file=out)
        print(f"next: python -m infra.admin ... token issue display {args.display}", file=out)
    elif command == ("display", "list"):
        for display in admin.list_displays(args.store):
            print(
                f"{display.display_id}\t{display.store}\t{', '.join(display.cameras) or '-'}",
                file=out,
            )
    elif command == ("display", "url"):
        token = args.token_from_env or None
        print(admin.player_url(args.display, token), file=out)
        if token is None:
            print(
                f"(replace DISPLAY_TOKEN, or set {DISPLAY_TOKEN_ENV} to print it filled in)",
                file=sys.stderr,
            )
    elif command == ("camera", "create"):
        admin.create_camera(args.store, args.camera, min_face_px=args.min_face_px)
        for display in args.display:
            admin.create_display(display, args.store, [args.camera], exist_ok=True)
        print(f"camera {args.store}/{args.camera} registered", file=out)
    elif command == ("camera", "list"):
        for camera in admin.list_cameras(args.store):
            px = f"{camera.min_face_px:g}" if camera.min_face_px else "default"
            print(
                f"{camera.store}/{camera.camera}\tmin_face_px {px}\t"
                f"displays: {', '.join(camera.displays) or '-'}",
                file=out,
            )
    elif command == ("camera", "set-min-face-px"):
        pixels = None if args.pixels == "default" else _pixels(args.pixels)
        admin.set_min_face_px(args.store, args.camera, pixels)
        print(f"camera {args.store}/{args.camera}: min_face_px {args.pixels}", file=out)
    elif command in (("token", "issue"), ("token", "rotate")):
        issue = admin.issue_token if args.action == "issue" else admin.rotate_token
        _print_issued(issue(args.role, args.subject), admin, out)
    elif command == ("token", "revoke"):
        count = admin.revoke_tokens(args.role, args.subject)
        print(f"revoked {count} token(s) of {args.role} {args.subject}", file=out)
    elif command == ("token", "list"):
        for record in admin.list_tokens(args.role):
            principal = record.principal
            print(
                f"{principal.role}\t{principal.subject}\tissued {_format_ms(record.issued_at_ms)}"
                f"\tsha256 {record.digest[:12]}...",
                file=out,
            )
    elif command in (("catalog", "validate"), ("catalog", "upload")):
        return _catalog_command(args, admin, out)
    else:  # argparse only lets through the commands above
        raise AdminError(f"unknown command {' '.join(command)}")
    return 0


def _catalog_command(args: argparse.Namespace, admin: Admin, out: Any) -> int:
    try:
        catalog = load_catalog(Path(args.file).read_bytes())
    except OSError as exc:
        raise AdminError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    except CatalogError as error:
        for problem in error.problems:
            print(f"error: {printable(problem)}", file=sys.stderr)
        return 1
    print(
        f"ok: {len(catalog.campaigns)} campaigns, {len(catalog.all_creatives())} creatives,"
        f" {len(catalog.stores)} stores",
        file=out,
    )
    if args.action == "upload":
        upload = admin.upload_catalog(catalog)
        for store in upload.kept_store_settings:
            print(f"kept store {store}'s settings from the current catalog", file=out)
        print("uploaded; the ad server reads it within its CATALOG_MAX_AGE_S", file=out)
    else:
        upload = admin.catalog_as_uploaded(catalog)
        for store in upload.kept_store_settings:
            print(f"an upload keeps store {store}'s settings from the current catalog", file=out)
    for warning in admin.catalog_warnings(upload.catalog):
        print(f"warning: {warning}", file=out)
    return 0


def _pixels(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise AdminError(f"min_face_px must be a number or 'default', got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    formatter = DefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="python -m infra.admin",
        description=(
            "Register stores, displays and cameras, issue their tokens and manage the ad"
            " catalog, on a deployed stack (AWS credentials as for the AWS CLI) or the local"
            " one. Tokens are printed once; only their SHA-256 is stored."
        ),
        formatter_class=formatter,
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local", action="store_true", help="the running local stack (reads --outputs)"
    )
    where.add_argument(
        "--stack-name",
        help=f"a deployed CloudFormation stack, e.g. {DEFAULT_STACK_NAME}; its outputs name"
        " the registry table, catalog bucket and ad server URL",
    )
    parser.add_argument("--region", help="AWS region (default: your profile's or AWS_REGION)")
    parser.add_argument(
        "--outputs", type=Path, default=DEFAULT_OUTPUTS, help="the local stack's outputs file"
    )
    parser.add_argument("--registry-table", help="registry table name (overrides the stack's)")
    parser.add_argument("--catalog-bucket", help="catalog bucket name (overrides the stack's)")
    parser.add_argument("--adserver-url", help="ad server base URL (overrides the stack's)")
    areas = parser.add_subparsers(dest="area", required=True, metavar="AREA")

    store = areas.add_parser("store", help="stores", formatter_class=formatter)
    store_actions = store.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = store_actions.add_parser(
        "create",
        help="register a store and write its settings into the catalog",
        formatter_class=formatter,
    )
    create.add_argument("store", help="store id: letters, digits, '-', '_'")
    create.add_argument("--time-zone", default="UTC", help="IANA time zone the schedules run in")
    create.add_argument(
        "--children-content",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="whether creatives aimed at children may play in this store",
    )
    store_actions.add_parser(
        "list", help="stores, their settings and cameras", formatter_class=formatter
    )

    display = areas.add_parser("display", help="displays", formatter_class=formatter)
    display_actions = display.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = display_actions.add_parser(
        "create",
        help="register a display with the cameras that watch it",
        formatter_class=formatter,
    )
    create.add_argument("display", help="display id")
    create.add_argument("--store", required=True, help="the store it stands in")
    create.add_argument(
        "--camera",
        action="append",
        default=[],
        help="a camera name watching its audience (repeat for more; registered if new)",
    )
    listing = display_actions.add_parser(
        "list", help="displays and their cameras", formatter_class=formatter
    )
    listing.add_argument("--store", help="only this store's")
    url = display_actions.add_parser(
        "url",
        help=f"the display's player URL (token from ${DISPLAY_TOKEN_ENV} if set)",
        formatter_class=formatter,
    )
    url.add_argument("display", help="display id")

    camera = areas.add_parser("camera", help="cameras", formatter_class=formatter)
    camera_actions = camera.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = camera_actions.add_parser(
        "create", help="register a camera in a store", formatter_class=formatter
    )
    create.add_argument("camera", help="camera name, unique within its store")
    create.add_argument("--store", required=True, help="the store it is in")
    create.add_argument(
        "--display", action="append", default=[], help="a display it watches for (repeatable)"
    )
    create.add_argument(
        "--min-face-px",
        type=float,
        help="smallest face width in pixels it must find (default: the predictor's, 24)",
    )
    listing = camera_actions.add_parser(
        "list", help="cameras, their displays and min_face_px", formatter_class=formatter
    )
    listing.add_argument("--store", help="only this store's")
    setting = camera_actions.add_parser(
        "set-min-face-px",
        help="the smallest face a camera must find; larger is cheaper per frame",
        formatter_class=formatter,
    )
    setting.add_argument("store")
    setting.add_argument("camera")
    setting.add_argument(
        "pixels",
        help=f"face width in pixels ({MIN_FACE_PX_RANGE[0]:g}-{MIN_FACE_PX_RANGE[1]:g}),"
        " or 'default'",
    )

    token = areas.add_parser("token", help="API tokens", formatter_class=formatter)
    token_actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (
        ("issue", "issue a new token (older ones keep working)"),
        ("rotate", "issue a new token and revoke the older ones at once"),
        ("revoke", "revoke every token of the principal"),
    ):
        sub = token_actions.add_parser(action, help=text, formatter_class=formatter)
        sub.add_argument("role", choices=ROLES)
        sub.add_argument("subject", help="operator: a name; display: its id; camera: STORE/CAMERA")
    listing = token_actions.add_parser(
        "list", help="issued tokens by role and subject (digests only)", formatter_class=formatter
    )
    listing.add_argument("--role", choices=ROLES, help="only this role's")

    catalog = areas.add_parser("catalog", help="the ad catalog", formatter_class=formatter)
    catalog_actions = catalog.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (
        ("validate", "check a catalog file against the schema and this registry"),
        ("upload", "validate, then upload it; the ad server picks it up within seconds"),
    ):
        sub = catalog_actions.add_parser(action, help=text, formatter_class=formatter)
        sub.add_argument("file", help="catalog JSON, e.g. adserver/seed_catalog.json")
    return parser


def resolve_targets(args: argparse.Namespace, session_factory: Callable[..., Any]) -> StackTargets:
    """Where the commands go: the local stack, a deployed stack, or explicit names."""
    if args.local:
        targets = local_targets(args.outputs)
    elif args.stack_name:
        cloudformation = session_factory(region_name=args.region).client("cloudformation")
        targets = deployed_targets(args.stack_name, cloudformation)
    elif args.registry_table:
        targets = StackTargets(registry_table=args.registry_table, region=args.region)
    else:
        raise AdminError("say which stack: --local, --stack-name NAME or --registry-table NAME")
    overrides = {
        "registry_table": args.registry_table or targets.registry_table,
        "catalog_bucket": args.catalog_bucket or targets.catalog_bucket,
        "adserver_url": args.adserver_url or targets.adserver_url,
    }
    return StackTargets(**{**targets.__dict__, **overrides})


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.token_from_env = os.environ.get(DISPLAY_TOKEN_ENV, "")
    try:
        targets = resolve_targets(args, boto3.session.Session)
        if targets.endpoint_url:
            # The local stack's moto accepts any credentials; never send real ones to it.
            session = boto3.session.Session(
                aws_access_key_id="local",
                aws_secret_access_key="local",
                region_name=targets.region,
            )
        else:
            session = boto3.session.Session(region_name=args.region or targets.region)
        return run_command(args, Admin.for_targets(targets, session))
    except AdminError as exc:
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 1
    except NoCredentialsError:
        print("error: no AWS credentials (aws configure, AWS_PROFILE or a role)", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS refused: {printable(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(run_main(main))
