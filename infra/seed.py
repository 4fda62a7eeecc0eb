"""Seed data for the local stack: two stores, each with a camera and a display, and tokens.

Seeding goes through the operator's own commands (infra/admin.py), so the local stack is set
up exactly as an operator sets up a deployed one. Tokens are generated fresh on every start and
only their digests go into the registry; the plain tokens are handed back for
.local/outputs.json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from adserver.registry import Display, DynamoDBRegistry
from infra.admin import Admin, new_token

# The demo store the README talks about, and a second store so isolation can be tested.
SEED_DISPLAYS: tuple[Display, ...] = (
    Display("demo-display-1", "demo-store", ("demo-store/demo-cam-1",)),
    Display("north-display-1", "north-store", ("north-store/north-cam-1",)),
)
SEED_OPERATOR = "local-operator"


@dataclass(frozen=True)
class SeedTokens:
    operator: str
    displays: dict[str, str]  # display id -> token
    cameras: dict[str, str]  # "{store}/{camera}" -> token


def seed_registry(
    registry: DynamoDBRegistry,
    displays: tuple[Display, ...] = SEED_DISPLAYS,
    new_token: Callable[[], str] = new_token,
) -> SeedTokens:
    """Register the stores, displays, their cameras and an operator; return the plain tokens.

    Store settings (time zone, children's content) are left to the catalog: the local ad
    server serves the seed catalog, which has them. Seeding a registry twice adds tokens and
    changes nothing else.
    """
    admin = Admin(registry.table, make_token=new_token)
    operator = admin.issue_token("operator", SEED_OPERATOR).token
    display_tokens: dict[str, str] = {}
    camera_tokens: dict[str, str] = {}
    for display in displays:
        admin.create_store(display.store, exist_ok=True)
        names = [camera.split("/", 1)[1] for camera in display.cameras]
        admin.create_display(display.display_id, display.store, names, exist_ok=True)
        display_tokens[display.display_id] = admin.issue_token("display", display.display_id).token
        for camera in display.cameras:
            if camera not in camera_tokens:
                camera_tokens[camera] = admin.issue_token("camera", camera).token
    return SeedTokens(operator=operator, displays=display_tokens, cameras=camera_tokens)
