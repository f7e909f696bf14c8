"""`ibmflow serve`: the web server of the console, the JSON API and the answer links mails carry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ibmflow.cli import app, out, state

if TYPE_CHECKING:
    from ibmflow.config import Settings


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: web.host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: web.port).", min=1, max=65535)
    ] = None,
) -> None:
    """Serve the web console, the JSON API and the answer links (Ctrl-C stops)."""
    from ibmflow.config import console_url
    from ibmflow.storage import migrate
    from ibmflow.web.server import ensure_port_free
    from ibmflow.web.server import serve as run_server

    context = state(ctx).context
    configured = context.settings
    # The mails this process writes link to where it listens, unless mail.base_url is configured.
    context.settings = settings = configured.listening_on(host, port)
    ensure_port_free(settings.web_host, settings.web_port)
    migrate.ensure_ready(context.db)
    listen = console_url(settings.web_host, settings.web_port)
    out.print(
        f"Serving the web console on {listen}/ (accounts: `ibmflow user add`), the JSON API on "
        f"{listen}/api (described at /api/openapi.json), and the answer links; the mails link to "
        f"{settings.mail_base_url}/r/… ({_link_note(configured.mail_base_url, settings)}).",
        highlight=False,
        markup=False,
    )
    run_server(context, host=settings.web_host, port=settings.web_port)


def _link_note(configured_url: str, settings: Settings) -> str:
    """What to know about the links: who else writes mails, and where theirs point."""
    if not settings.mail_base_url_derived:
        return "mail.base_url, which must reach this server"
    note = "set mail.base_url if people reach this server at another address"
    if configured_url == settings.mail_base_url:
        return note
    return (
        f"{note}; a separate `ibmflow worker` links to {configured_url}/r/…, from web.host and "
        "web.port: set web.port or mail.base_url in config.toml to match"
    )
