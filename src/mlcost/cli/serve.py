"""``mlcost serve`` and ``mlcost tokens create | list | revoke``."""

from __future__ import annotations

import ipaddress
import socket

import click

from mlcost.cli._common import (
    format_option,
    render_rows,
    settings_from,
    target_from,
    warehouse_from,
)


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


@click.command(
    epilog="Example: mlcost serve --port 8000 (then open http://127.0.0.1:8000 with a token)"
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--no-auth",
    is_flag=True,
    help="Serve without tokens (everyone is admin); refused unless --host is loopback.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, no_auth: bool) -> None:
    """Serve the REST API (/api/v1), Prometheus /metrics and the dashboard with uvicorn."""
    if no_auth and not is_loopback(host):
        raise click.BadParameter(
            f"--no-auth serves every request as admin, so it binds to loopback only; {host!r} "
            "is not. Use --host 127.0.0.1, or create a token: mlcost tokens create --scope "
            "read:all",
            param_hint="--host",
        )
    try:
        import uvicorn

        from mlcost.server.app import create_app
    except ModuleNotFoundError as exc:
        raise click.ClickException(
            f"mlcost serve needs the server extra ({exc.name} is missing): "
            "pip install 'mlcost[server]'"
        ) from None
    settings, target = settings_from(ctx), target_from(ctx)
    if target.engine == "duckdb":
        # Apply migrations once (api_tokens and friends) before serving read-only.
        with warehouse_from(ctx):
            pass
    app = create_app(settings, no_auth=no_auth, target=target)
    mode = "NO AUTH (loopback only)" if no_auth else "tokens required"
    click.echo(f"mlcost serving {target.url} on http://{host}:{port} ({mode})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info")


@click.group()
def tokens() -> None:
    """API tokens of mlcost serve: create (prints the secret once), list, revoke."""


@tokens.command(
    epilog="Example: mlcost tokens create --scope read:team:search --name search --expires 30d"
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="admin, read:all or read:team:<name>; repeat for several.",
)
@click.option("--name", default="", help="A label for people (default: the token id).")
@click.option(
    "--expires",
    default=None,
    help="Refuse the token after this: a span (30d, 12h, 2w) or a UTC date (2027-01-31). "
    "Default: never.",
)
@click.pass_context
def create(ctx: click.Context, scopes: tuple[str, ...], name: str, expires: str | None) -> None:
    """Create a token and print its secret (stored only as a hash: copy it now)."""
    from mlcost.server.auth import create_token

    with warehouse_from(ctx) as wh:
        info, secret = create_token(wh, list(scopes), name, expires)
    click.echo(secret)
    until = "" if info.expires_at is None else f", expiring {info.expires_at:%Y-%m-%d %H:%M} UTC"
    click.echo(
        f"Token {info.token_id} ({info.name}) with scope {' '.join(info.scopes)}{until}. The "
        "secret above is shown once; send it as 'Authorization: Bearer <secret>'.",
        err=True,
    )


@tokens.command(name="list", epilog="Example: mlcost tokens list --format json")
@format_option
@click.pass_context
def list_(ctx: click.Context, fmt: str) -> None:
    """Every token: id, name, scopes, created, revoked (never the secret)."""
    from mlcost.server.auth import list_tokens

    with warehouse_from(ctx, create=False) as wh:
        found = list_tokens(wh)
    rows = [
        {
            "id": t.token_id,
            "name": t.name,
            "scopes": " ".join(t.scopes),
            "created": t.created_at,
            "revoked": t.revoked_at or "",
            "expires": t.expires_at or "",
        }
        for t in found
    ]
    cols = ["id", "name", "scopes", "created", "revoked", "expires"]
    render_rows(rows, cols, fmt, title="API tokens")


@tokens.command(epilog="Example: mlcost tokens revoke 3f9a01c2 (an id from mlcost tokens list)")
@click.argument("token_id")
@click.pass_context
def revoke(ctx: click.Context, token_id: str) -> None:
    """Revoke a token by id: it stops working on the next request."""
    from mlcost.server.auth import revoke_token

    with warehouse_from(ctx) as wh:
        info = revoke_token(wh, token_id)
    click.echo(f"Revoked token {info.token_id} ({info.name}) at {info.revoked_at:%Y-%m-%d %H:%M}.")
