"""Who is calling: staff (admin or signed staff tokens) or a client system (API key)."""

from aftercare_shared.auth.api_keys import (
    API_KEY_SCOPES,
    ApiKeyScope,
    ResolvedApiKey,
    generate_api_key,
    hash_api_key,
)
from aftercare_shared.auth.authenticator import Authenticator, Principal
from aftercare_shared.auth.staff_tokens import (
    STAFF_ROLES,
    StaffRole,
    StaffTokens,
    VerifiedStaffToken,
)

__all__ = [
    "API_KEY_SCOPES",
    "STAFF_ROLES",
    "ApiKeyScope",
    "Authenticator",
    "Principal",
    "ResolvedApiKey",
    "StaffRole",
    "StaffTokens",
    "VerifiedStaffToken",
    "generate_api_key",
    "hash_api_key",
]
