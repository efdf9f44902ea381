"""``aftercare keys issue|list|revoke`` and ``aftercare staff-tokens issue|list|revoke``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aftercare_cli.api_client import call
from aftercare_cli.guard import config_or_exit, failures_exit
from aftercare_cli.output import JSON_OPTION_HELP, emit_json, progress, table
from aftercare_shared.events.catalog import StaffRole
from aftercare_shared.names import ServiceName

JsonOption = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]

keys_app = typer.Typer(help="Client API keys (intake).", no_args_is_help=True)
staff_tokens_app = typer.Typer(
    help="Signed staff tokens (intake; admin only).", no_args_is_help=True
)


@keys_app.command("issue")
def issue_key(
    client: Annotated[str, typer.Option("--client", help="the client's id")],
    name: Annotated[str | None, typer.Option(help="a name to recognise the key by")] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue an API key for a client; the secret is shown this once."""
    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        url = f"{config.service_url(ServiceName.INTAKE)}/v1/clients/{client}/api-keys"
        body = {"name": name} if name is not None else {}
        key = call("POST", url, config.staff_token, json_body=body)
        if as_json:
            emit_json(key)
            return
        table("API key issued (the key is shown only now)", ["field", "value"], list(key.items()))


@keys_app.command("list")
def list_keys(
    client: Annotated[str, typer.Option("--client", help="the client's id")],
    as_json: JsonOption = False,
) -> None:
    """A client's keys (never their secrets), every page."""
    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        url = f"{config.service_url(ServiceName.INTAKE)}/v1/clients/{client}/api-keys"
        keys: list[dict[str, Any]] = []
        cursor: str | None = None
        with progress("reading keys", total=None, quiet=as_json) as advance:
            while True:
                page = call("GET", url, config.staff_token, params={"limit": 200, "cursor": cursor})
                keys.extend(page["items"])
                advance(len(page["items"]))
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        if as_json:
            emit_json({"items": keys})
            return
        columns = ["id", "prefix", "name", "created_at", "revoked_at"]
        table(f"{len(keys)} key(s)", columns, [[k.get(c) for c in columns] for k in keys])


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="the key's id (not the secret)")],
    as_json: JsonOption = False,
) -> None:
    """Revoke a key: it fails at once on intake, and on the other services once they hear."""
    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        call(
            "DELETE",
            f"{config.service_url(ServiceName.INTAKE)}/v1/api-keys/{key_id}",
            config.staff_token,
        )
        if as_json:
            emit_json({"revoked": key_id})
            return
        typer.echo(f"revoked {key_id}")


@staff_tokens_app.command("issue")
def issue_staff_token(
    subject: Annotated[str, typer.Option(help="who the token is for (shown in logs)")],
    ttl_seconds: Annotated[int, typer.Option("--ttl-seconds", help="lifetime")] = 3600,
    role: Annotated[
        StaffRole, typer.Option(help="admin (manages tokens), staff, or viewer (reads only)")
    ] = "staff",
    as_json: JsonOption = False,
) -> None:
    """Mint a signed, expiring staff token with the admin token."""
    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        token = call(
            "POST",
            f"{config.service_url(ServiceName.INTAKE)}/v1/staff-tokens",
            config.admin_token,
            json_body={"subject": subject, "ttl_seconds": ttl_seconds, "role": role},
        )
        if as_json:
            emit_json(token)
            return
        table("staff token", ["field", "value"], list(token.items()))


@staff_tokens_app.command("list")
def list_staff_tokens(as_json: JsonOption = False) -> None:
    """Every minted staff token (never the token itself), every page."""
    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        url = f"{config.service_url(ServiceName.INTAKE)}/v1/staff-tokens"
        tokens: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = call("GET", url, config.admin_token, params={"limit": 200, "cursor": cursor})
            tokens.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if as_json:
            emit_json({"items": tokens})
            return
        columns = ["id", "subject", "role", "expires_at", "revoked_at"]
        table(f"{len(tokens)} token(s)", columns, [[t.get(c) for c in columns] for t in tokens])


@staff_tokens_app.command("revoke")
def revoke_staff_token(
    token_id: Annotated[str, typer.Argument(help="the token's id (not the token)")],
    as_json: JsonOption = False,
) -> None:
    """Revoke a staff token: refused at once on intake, on the others once they hear."""
    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        call(
            "DELETE",
            f"{config.service_url(ServiceName.INTAKE)}/v1/staff-tokens/{token_id}",
            config.admin_token,
        )
        if as_json:
            emit_json({"revoked": token_id})
            return
        typer.echo(f"revoked {token_id}")
