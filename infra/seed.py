"""Seed data for the local stack: two stores, each with a camera and a display, and tokens.

Tokens are generated fresh on every start and only their digests go into the registry; the
plain tokens are handed back for .local/outputs.json.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from adserver.registry import Display, DynamoDBRegistry, Principal

# The demo store the README talks about, and a second store so isolation can be tested.
SEED_DISPLAYS: tuple[Display, ...] = (
    Display("demo-display-1", "demo-store", ("demo-store/demo-cam-1",)),
    Display("north-display-1", "north-store", ("north-store/north-cam-1",)),
)


@dataclass(frozen=True)
class SeedTokens:
    operator: str
    displays: dict[str, str]  # display id -> token
    cameras: dict[str, str]  # "{store}/{camera}" -> token


def seed_registry(
    registry: DynamoDBRegistry,
    displays: tuple[Display, ...] = SEED_DISPLAYS,
    new_token: Callable[[], str] = lambda: secrets.token_urlsafe(24),
) -> SeedTokens:
    """Register the displays, their cameras and an operator; return the plain tokens."""
    operator = new_token()
    registry.add_token(operator, Principal("operator", "local-operator"))
    display_tokens: dict[str, str] = {}
    camera_tokens: dict[str, str] = {}
    for display in displays:
        registry.add_display(display)
        display_tokens[display.display_id] = new_token()
        registry.add_token(
            display_tokens[display.display_id],
            Principal("display", display.display_id, display.store),
        )
        for camera in display.cameras:
            if camera not in camera_tokens:
                camera_tokens[camera] = new_token()
                registry.add_token(
                    camera_tokens[camera], Principal("camera", camera, display.store)
                )
    return SeedTokens(operator=operator, displays=display_tokens, cameras=camera_tokens)
