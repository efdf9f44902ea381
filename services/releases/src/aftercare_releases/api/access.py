"""Who may see what: staff see every release, a client key only its own client's share."""

from __future__ import annotations

from aftercare_shared.auth import Principal


def client_scope(principal: Principal) -> str | None:
    """None for staff (no narrowing); otherwise the client a client key is confined to."""
    return None if principal.is_staff else principal.client_id
