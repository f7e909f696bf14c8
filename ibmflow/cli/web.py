"""`ibmflow serve`: the web server of the console, the JSON API and the answer links mails carry."""

from __future__ import annotations

from typing import Annotated

import typer

from ibmflow.cli import app, out, state


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
    from ibmflow.storage import migrate
    from ibmflow.web.server import serve as run_server

    context = state(ctx).context
    settings = context.settings
    migrate.ensure_ready(context.db)
    listen = f"http://{host or settings.web_host}:{settings.web_port if port is None else port}"
    out.print(
        f"Serving the web console on {listen}/ (accounts: `ibmflow user add`), the JSON API on "
        f"{listen}/api (described at /api/openapi.json), and the answer links; the mails link to "
        f"{settings.mail_base_url}/r/… (mail.base_url must reach this server).",
        highlight=False,
    )
    run_server(context, host=host, port=port)
