"""Role checks: who may act on a venue or an event.

Refusals are ``DomainError``s (FORBIDDEN, NOT_FOUND): an organizer operation answers them as
its payload's ``failureReason``; a query turns them into a top-level error (``from_domain``).
Signing in is checked first, as everywhere (an UNAUTHENTICATED error).
"""

from __future__ import annotations

from adapters.ownership import ManagedEvent, event_owner, venue_owner
from api.auth import Identity
from api.context import Context
from api.services import run_sync
from domain.errors import DomainError, ErrorCode
from domain.model import Role


def require_role(context: Context, *roles: Role) -> Identity:
    """The caller, if it holds one of ``roles`` (ADMIN always does)."""
    identity = context.require_user()
    if identity.has_role(Role.ADMIN) or any(identity.has_role(r) for r in roles):
        return identity
    wanted = " or ".join(r.value for r in roles)
    raise DomainError(ErrorCode.FORBIDDEN, f"this needs the {wanted} role")


def may_manage(identity: Identity, owner_id: str | None) -> bool:
    return identity.has_role(Role.ADMIN) or (owner_id is not None and owner_id == identity.user_id)


async def managed_event(context: Context, event_id: str) -> tuple[Identity, ManagedEvent]:
    """The event, if the caller organizes it (or is an ADMIN)."""
    identity = require_role(context, Role.ORGANIZER)
    event = await run_sync(event_owner, context.services.engine, event_id)
    if event is None:
        raise DomainError(ErrorCode.NOT_FOUND, "event not found")
    if not may_manage(identity, event.organizer_id):
        raise DomainError(ErrorCode.FORBIDDEN, "this event belongs to another organizer")
    return identity, event


async def managed_venue(context: Context, venue_id: str) -> Identity:
    """The caller, if it owns the venue (or is an ADMIN)."""
    identity = require_role(context, Role.ORGANIZER)
    owner = await run_sync(venue_owner, context.services.engine, venue_id)
    if owner is False:
        raise DomainError(ErrorCode.NOT_FOUND, "venue not found")
    if not may_manage(identity, owner if isinstance(owner, str) else None):
        raise DomainError(ErrorCode.FORBIDDEN, "this venue belongs to another organizer")
    return identity
