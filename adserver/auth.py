"""Bearer-token checks for the API routes: who is calling, and may they see this resource."""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.event_handler.exceptions import ForbiddenError, UnauthorizedError

from adserver.registry import Principal, Registry


def authenticate(headers: Mapping[str, str], registry: Registry) -> Principal:
    """The principal behind ``Authorization: Bearer <token>``; 401 without a known token."""
    authorization = next(
        (value for name, value in headers.items() if name.lower() == "authorization"), ""
    )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("missing bearer token")
    principal = registry.principal_for_token(token.strip())
    if principal is None:
        raise UnauthorizedError("unknown token")
    return principal


def require_operator(principal: Principal) -> None:
    if principal.role != "operator":
        raise ForbiddenError("operator token required")


def require_display(principal: Principal, display_id: str) -> None:
    """Displays see only themselves; operators see every display."""
    if principal.role == "operator":
        return
    if principal.role != "display" or principal.subject != display_id:
        raise ForbiddenError(f"token is not for display {display_id}")


def require_display_itself(principal: Principal, display_id: str) -> None:
    """Only the display itself: plays are its word, which no operator may speak for."""
    if principal.role != "display" or principal.subject != display_id:
        raise ForbiddenError(f"only display {display_id}'s own token may report its plays")


def require_camera(principal: Principal, store: str, camera: str) -> None:
    """Cameras act only as themselves; operators may act for any camera."""
    if principal.role == "operator":
        return
    if principal.role != "camera" or principal.subject != f"{store}/{camera}":
        raise ForbiddenError(f"token is not for camera {store}/{camera}")
