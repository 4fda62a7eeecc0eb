"""python -m infra.admin on the template's registry table and catalog bucket (moto): stores,
displays, cameras, tokens the ad server accepts, catalog upload, and the local seed."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from adserver import handler
from adserver.catalog import S3CatalogSource, StoreSettings, load_catalog, seed_catalog
from adserver.local_server import http_api_event
from adserver.registry import DynamoDBRegistry, token_digest
from infra import admin as admin_cli
from infra.admin import Admin, AdminError, StackTargets, deployed_targets, local_targets
from infra.local_lambda import LocalLambdaContext
from infra.provision import provision
from infra.seed import SEED_DISPLAYS, seed_registry
from infra.template import load_template, translate
from lambdas.frame_keys import FrameKey
from lambdas.inference.cameras import RegisteredCameras

REGION = "us-east-1"


@pytest.fixture
def stack(aws):
    """The registry table, catalog bucket and ad server function as template.yaml has them."""
    return provision(
        translate(load_template(), {"Stage": "local"}),
        boto3.session.Session(region_name=REGION),
        stack_name=f"admin-{uuid.uuid4().hex[:6]}",
        parameters={"Stage": "local"},
    )


@pytest.fixture
def targets(stack) -> StackTargets:
    return StackTargets(
        registry_table=stack.outputs["RegistryTableName"],
        catalog_bucket=stack.outputs["CatalogBucketName"],
        adserver_url="https://api.example.com",
        region=REGION,
    )


@pytest.fixture
def admin(targets) -> Admin:
    return Admin.for_targets(targets, boto3.session.Session(region_name=REGION))


@pytest.fixture
def registry(stack) -> DynamoDBRegistry:
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.outputs["RegistryTableName"])
    return DynamoDBRegistry(table)


@pytest.fixture
def store_with_display(admin):
    admin.create_store("corner", StoreSettings(time_zone="Europe/Paris"))
    admin.create_display("door-1", "corner", ["door-cam"])
    return admin


@pytest.fixture
def ad_server(stack, monkeypatch):
    """The ad server's Lambda handler as a fresh container with the template's environment."""
    for name, value in stack.functions["AdServerFunction"].environment.items():
        monkeypatch.setenv(name, value)
    handler.get_app.cache_clear()

    def call(method: str, path: str, token: str, body: bytes = b"") -> int:
        headers = {"Authorization": f"Bearer {token}"}
        if body:
            headers["Content-Type"] = "application/json"
        event = http_api_event(method, path, headers, body)
        response = handler.lambda_handler(event, LocalLambdaContext("adserver", 10))
        return int(response["statusCode"])

    yield call
    handler.get_app.cache_clear()


# --------------------------------------------------------------------------- stores, displays
def test_a_store_display_and_camera_are_what_the_services_read(store_with_display, registry):
    # GIVEN a store, a display watched by one camera, and a second camera added later
    store_with_display.create_camera("corner", "aisle-cam", min_face_px=64)
    # THEN the ad server's registry sees the display, its camera and the store's cameras
    display = registry.display("door-1")
    assert display is not None
    assert (display.store, display.cameras) == ("corner", ("corner/door-cam",))
    assert registry.store_cameras("corner") == ("corner/aisle-cam", "corner/door-cam")
    # AND the store lists the display (the dashboard's "now" reads it with GetItem alone)
    assert registry.store_displays("corner") == (display,)
    # AND the inference function accepts both cameras and reads the near profile
    cameras = RegisteredCameras(registry.table)
    aisle = FrameKey("corner", "aisle-cam", 1_700_000_000_000)
    assert cameras.unregistered_reason(aisle) is None
    assert cameras.min_face_px(aisle) == 64
    assert cameras.min_face_px(FrameKey("corner", "door-cam", 1_700_000_000_000)) is None


def test_listing_shows_stores_with_settings_displays_and_cameras(store_with_display):
    store_with_display.create_camera("corner", "aisle-cam")
    [store] = store_with_display.list_stores()
    assert store.store == "corner" and store.cameras == ("aisle-cam", "door-cam")
    assert store.settings == StoreSettings(time_zone="Europe/Paris", children_content=False)
    [display] = store_with_display.list_displays()
    assert display.display_id == "door-1"
    cameras = {c.camera: c.displays for c in store_with_display.list_cameras("corner")}
    assert cameras == {"aisle-cam": (), "door-cam": ("door-1",)}


def test_store_settings_go_into_the_catalog_the_ad_server_reads(admin, targets):
    # WHEN a store is created with a time zone and children's content on
    admin.create_store("kids-corner", StoreSettings(time_zone="Asia/Tokyo", children_content=True))
    # THEN the catalog in the bucket carries them, on top of the seed catalog's campaigns
    source = S3CatalogSource(
        boto3.client("s3", region_name=REGION), targets.catalog_bucket, "catalog.json"
    )
    catalog = source.get()
    assert catalog.store("kids-corner") == StoreSettings(
        time_zone="Asia/Tokyo", children_content=True
    )
    assert catalog.campaigns == seed_catalog().campaigns


def test_a_store_without_settings_leaves_the_catalog_alone(admin, targets):
    admin.create_store("plain")
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.list_objects_v2(Bucket=targets.catalog_bucket).get("KeyCount") == 0


@pytest.mark.parametrize(
    "action, message",
    [
        (lambda a: a.create_store("corner"), "store 'corner' already exists"),
        (lambda a: a.create_store("bad/id"), "store 'bad/id': use 1-64 ASCII"),
        (lambda a: a.create_display("d", "nowhere"), "store 'nowhere' is not registered"),
        (lambda a: a.create_display("door-1", "corner"), "display 'door-1' already exists"),
        (lambda a: a.create_camera("corner", "door-cam"), "camera 'corner/door-cam' already"),
        (lambda a: a.set_min_face_px("corner", "ghost", 40), "camera 'ghost' is not registered"),
        (lambda a: a.set_min_face_px("corner", "door-cam", 2), "between 8 and 1024"),
        (lambda a: a.issue_token("display", "ghost"), "display 'ghost' is not registered"),
        (lambda a: a.issue_token("camera", "corner/ghost"), "camera 'ghost' is not registered"),
    ],
)
def test_what_the_registry_refuses_is_said_in_one_line(store_with_display, action, message):
    with pytest.raises(AdminError) as refused:
        action(store_with_display)
    assert message in str(refused.value)


def test_an_unknown_time_zone_is_refused_before_anything_is_written():
    with pytest.raises(AdminError, match="unknown time zone 'Mars/Olympus'"):
        admin_cli.store_settings("Mars/Olympus", False)


def test_min_face_px_can_be_set_and_cleared(store_with_display, registry):
    store_with_display.set_min_face_px("corner", "door-cam", 48)
    item = registry.table.get_item(Key={"pk": "store#corner"})["Item"]
    assert item["min_face_px"] == {"door-cam": 48}
    store_with_display.set_min_face_px("corner", "door-cam", None)
    item = registry.table.get_item(Key={"pk": "store#corner"})["Item"]
    assert item["min_face_px"] == {}


def test_min_face_px_works_on_a_store_item_written_before_the_map(admin, registry):
    # GIVEN a store item as the registry wrote them before (no min_face_px map)
    registry.table.put_item(Item={"pk": "store#old", "kind": "store", "cameras": {"old/cam"}})
    admin.set_min_face_px("old", "cam", 32)
    assert registry.table.get_item(Key={"pk": "store#old"})["Item"]["min_face_px"] == {"cam": 32}


# --------------------------------------------------------------------------- tokens
def test_the_ad_server_accepts_the_tokens_issued(store_with_display, registry, ad_server):
    # GIVEN tokens for the display, its camera and an operator
    display = store_with_display.issue_token("display", "door-1")
    camera = store_with_display.issue_token("camera", "corner/door-cam")
    operator = store_with_display.issue_token("operator", "alice")
    # THEN each opens its own routes (the camera client's first call is upload-url)
    assert ad_server("GET", "/v1/displays/door-1/next-ad", display.token) == 200
    upload = "/v1/stores/corner/cameras/door-cam/upload-url"
    assert ad_server("POST", upload, camera.token, b"{}") == 200
    observations = "/v1/stores/corner/cameras/door-cam/observations?since_ms=0"
    assert ad_server("GET", observations, operator.token) == 200
    # AND none opens another's: the display token is not the camera's
    assert ad_server("POST", upload, display.token, b"{}") == 403
    # AND the registry holds digests only
    dump = json.dumps(registry.table.scan()["Items"], default=str)
    assert display.token not in dump and token_digest(display.token) in dump


def test_rotating_a_token_retires_the_old_one_at_once(store_with_display, ad_server):
    old = store_with_display.issue_token("display", "door-1")
    new = store_with_display.rotate_token("display", "door-1")
    assert new.revoked == 1 and new.token != old.token
    assert ad_server("GET", "/v1/displays/door-1/next-ad", old.token) == 401
    assert ad_server("GET", "/v1/displays/door-1/next-ad", new.token) == 200


def test_a_revoked_token_is_refused(store_with_display, ad_server):
    camera = store_with_display.issue_token("camera", "corner/door-cam")
    store_with_display.issue_token("camera", "corner/door-cam")
    assert store_with_display.revoke_tokens("camera", "corner/door-cam") == 2
    upload = "/v1/stores/corner/cameras/door-cam/upload-url"
    assert ad_server("POST", upload, camera.token, b"{}") == 401
    assert store_with_display.list_tokens("camera") == []


def test_the_player_url_carries_the_token_in_the_fragment(store_with_display):
    url = store_with_display.player_url("door-1", "abc")
    assert url == "https://api.example.com/display/door-1#token=abc"


# --------------------------------------------------------------------------- catalog
def test_uploading_a_catalog_keeps_the_settings_of_stores_it_does_not_name(
    store_with_display, targets
):
    # GIVEN a catalog file that knows nothing of the store created with Europe/Paris
    document = json.loads(seed_catalog().model_dump_json())
    document["stores"] = {}
    catalog = load_catalog(json.dumps(document))
    # WHEN it is checked and uploaded
    warnings = store_with_display.catalog_warnings(catalog)
    upload = store_with_display.upload_catalog(catalog)
    # THEN the check says the store has no settings, and the upload keeps the ones it had
    assert warnings == [
        "store 'corner' has no settings in the catalog: it runs in UTC without children's content"
    ]
    assert upload.kept_store_settings == ("corner",)
    assert store_with_display.read_catalog().store("corner").time_zone == "Europe/Paris"


def test_the_catalog_commands_validate_and_upload(store_with_display, targets, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"default_creative": {"id": "x"}}')
    args = ["--registry-table", targets.registry_table, "--catalog-bucket", targets.catalog_bucket]
    assert admin_cli.main([*args, "catalog", "validate", str(bad)]) == 1
    assert "default_creative.url: Field required" in capsys.readouterr().err
    good = "adserver/seed_catalog.json"
    assert admin_cli.main([*args, "catalog", "upload", good]) == 0
    out = capsys.readouterr().out
    assert "warning: stores.demo-store: not a registered store" in out
    assert "kept store corner's settings" in out


# --------------------------------------------------------------------------- command line
def test_the_command_line_creates_a_store_display_camera_and_token(stack, targets, capsys):
    where = ["--registry-table", targets.registry_table, "--catalog-bucket", targets.catalog_bucket]
    where += ["--adserver-url", "https://api.example.com"]
    commands = [
        ["store", "create", "corner", "--time-zone", "Europe/Paris", "--children-content"],
        ["display", "create", "door-1", "--store", "corner", "--camera", "door-cam"],
        ["camera", "create", "aisle-cam", "--store", "corner", "--display", "door-1"],
        ["camera", "set-min-face-px", "corner", "aisle-cam", "64"],
    ]
    for command in commands:
        assert admin_cli.main([*where, *command]) == 0, command
    capsys.readouterr()
    assert admin_cli.main([*where, "token", "issue", "display", "door-1"]) == 0
    out = capsys.readouterr().out.splitlines()
    token = out[1].strip()
    assert out[2] == f"player URL: https://api.example.com/display/door-1#token={token}"
    assert admin_cli.main([*where, "camera", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "corner/aisle-cam\tmin_face_px 64\tdisplays: door-1",
        "corner/door-cam\tmin_face_px default\tdisplays: door-1",
    ]
    assert admin_cli.main([*where, "store", "list"]) == 0
    assert capsys.readouterr().out.startswith("corner\tEurope/Paris\tchildren on\t")


def test_a_refusal_is_one_line_and_a_non_zero_exit(targets, capsys):
    where = ["--registry-table", targets.registry_table]
    assert admin_cli.main([*where, "display", "create", "d", "--store", "nowhere"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: store 'nowhere' is not registered") and err.count("\n") == 1


def test_a_command_needs_to_know_which_stack(capsys):
    assert admin_cli.main(["store", "list"]) == 1
    assert "--local, --stack-name NAME or --registry-table NAME" in capsys.readouterr().err


def test_every_help_text_exits_zero_and_shows_defaults(capsys):
    with pytest.raises(SystemExit) as done:
        admin_cli.main(["store", "create", "--help"])
    assert done.value.code == 0
    assert "(default: UTC)" in capsys.readouterr().out


def test_targets_come_from_the_local_outputs_or_the_deployed_stack(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "endpoint_url": "http://127.0.0.1:4566",
                "region": "us-east-1",
                "registry_table": "s-registry",
                "catalog_bucket": "s-catalog",
                "adserver_url": "http://127.0.0.1:8080",
            }
        )
    )
    local = local_targets(outputs)
    assert (local.registry_table, local.catalog_bucket, local.endpoint_url) == (
        "s-registry",
        "s-catalog",
        "http://127.0.0.1:4566",
    )

    class CloudFormation:
        class meta:
            region_name = "eu-west-1"

        def describe_stacks(self, StackName):
            assert StackName == "smart-displays"
            names = {"RegistryTableName": "r", "CatalogBucketName": "c", "AdServerUrl": "https://a"}
            outputs = [{"OutputKey": k, "OutputValue": v} for k, v in names.items()]
            return {"Stacks": [{"Outputs": outputs}]}

    deployed = deployed_targets("smart-displays", CloudFormation())
    assert deployed == StackTargets("r", "c", "catalog.json", "https://a", "eu-west-1")


# --------------------------------------------------------------------------- the local seed
def test_the_seed_goes_through_the_admin_code_and_can_run_twice(registry, ad_server):
    first = seed_registry(registry)
    second = seed_registry(registry)
    display = SEED_DISPLAYS[0]
    assert registry.display(display.display_id) == display
    assert registry.store_cameras(display.store) == display.cameras
    for tokens in (first, second):
        path = f"/v1/displays/{display.display_id}/next-ad"
        assert ad_server("GET", path, tokens.displays[display.display_id]) == 200


def test_validating_a_catalog_that_omits_a_store_warns_only_of_what_an_upload_would_do(
    store_with_display, targets, tmp_path, capsys
):
    # GIVEN a store created with Europe/Paris, and a catalog file that does not name it
    document = json.loads(seed_catalog().model_dump_json())
    document["stores"] = {}
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps(document))
    where = ["--registry-table", targets.registry_table, "--catalog-bucket", targets.catalog_bucket]
    # WHEN the file is validated
    assert admin_cli.main([*where, "catalog", "validate", str(catalog_file)]) == 0
    # THEN it does not claim the store runs in UTC: an upload keeps its settings, and says so
    out = capsys.readouterr().out
    assert "runs in UTC" not in out
    assert "an upload keeps store corner's settings from the current catalog" in out
