"""The staff bootstrap credential: the user's, or one generated once and kept."""

import secrets

from .console import warn
from .env_file import write_private_file
from .profiles import Profile


def resolve_admin_token(profile: Profile, services_already_running: bool) -> str:
    token_file = profile.admin_token_file
    stored = token_file.read_text().strip() if token_file.is_file() else None
    token = profile.admin_token_override or stored or secrets.token_urlsafe(32)
    if services_already_running and stored is not None and token != stored:
        warn(
            f"{profile.setting_name('ADMIN_TOKEN')} differs from the token the running "
            f"services were started with; `make restart` to apply it"
        )
    if token != stored:
        write_private_file(token_file, token + "\n")
    return token
