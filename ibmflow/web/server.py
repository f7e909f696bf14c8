"""Serving the answer pages with uvicorn, run from Python, with link tokens kept out of its logs.

The access log stays on (operators need it) but every `/r/<token>` in a log record, its arguments or
its traceback becomes `/r/…`, and any other token-shaped run of characters `…`, after percent-escapes
are decoded, before any handler sees it.
"""

from __future__ import annotations

import errno
import gc
import logging
import re
import signal
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from ibmflow.errors import InvalidCommand
from ibmflow.services.context import Context
from ibmflow.web.app import create_app

_LINK = re.compile(r"/r/[^/\s\"'?#]+")
# A link token is 32 URL-safe characters; any run of 32 or more is taken for one, wherever it is
# (a crafted path such as /r/%2e%2e%2f…/TOKEN puts it after other segments).
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{32,}")
REDACTED = "/r/…"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def redact(text: str, *, decode: bool = True) -> str:
    """`text` with the token of every answer link replaced by an ellipsis: percent-escapes decoded
    first (up to three levels, unless `decode` is false: a format string keeps its `%`), then every
    `/r/` segment and every token-shaped run of characters hidden."""
    for _ in range(3 if decode else 0):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return _TOKEN_LIKE.sub("…", _LINK.sub(REDACTED, text))


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactLinkTokens(logging.Filter):
    """A logging filter that removes answer-link tokens from messages, arguments and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg, decode=False)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _redact_value(arg) for key, arg in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


_FILTER = RedactLinkTokens()


def install_log_redaction() -> None:
    """Put the redacting filter on uvicorn's loggers (once: adding it again changes nothing)."""
    for name in UVICORN_LOGGERS:
        logging.getLogger(name).addFilter(_FILTER)


def build_server(
    ctx: Context,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
    log_config: dict[str, Any] | None = LOGGING_CONFIG,
) -> uvicorn.Server:
    """A uvicorn server for the answer pages (host and port default to web.host and web.port).

    `log_config=None` leaves logging as the caller set it up (records reach the root logger).
    `X-Forwarded-For` and `X-Forwarded-Proto` are believed only from the addresses in
    `web.trusted_proxies` (none by default: uvicorn would otherwise trust them from loopback, and any
    local client could pose as any address to the login limit).
    """
    proxies = list(ctx.settings.web_trusted_proxies)
    config = uvicorn.Config(
        create_app(ctx),
        host=host or ctx.settings.web_host,
        port=ctx.settings.web_port if port is None else port,
        log_level=log_level,
        log_config=log_config,
        http="h11",
        loop="asyncio",
        ws="none",
        lifespan="off",
        server_header=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies,
    )
    install_log_redaction()  # after the Config, whose logging setup would come first otherwise
    return uvicorn.Server(config)


def ensure_port_free(host: str, port: int) -> None:
    """Refuse, before anything is set up, to serve on an address another program holds (an earlier
    `ibmflow demo` still running, say): uvicorn would only say 'address already in use' once the demo
    had printed logins for a console that never comes up. Bound as uvicorn binds (SO_REUSEADDR), so a
    connection of a stopped server waiting in TIME_WAIT is no obstacle."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        what = (
            "is already in use (is another `ibmflow serve` or `ibmflow demo` running?)"
            if exc.errno == errno.EADDRINUSE
            else f"cannot be listened on ({exc.strerror or exc})"
        )
        raise InvalidCommand(
            f"{host}:{port} {what}: stop that program, or choose another port with --port N "
            "(or another address with --host)."
        ) from None


@contextmanager
def stopped_by_sigterm() -> Iterator[None]:
    """Run a block that Ctrl-C or SIGTERM stops cleanly: both raise KeyboardInterrupt, which is
    swallowed when the block ends. uvicorn shuts down gracefully on either signal, then raises it
    again with the handlers it found; SIGTERM's default would kill the process at that point."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler) if main else None
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def serve(ctx: Context, *, host: str | None = None, port: int | None = None) -> None:
    """Serve the answer pages until stopped by Ctrl-C or SIGTERM (then return normally)."""
    server = build_server(ctx, host=host, port=port)
    # What is loaded by now (modules, settings, the app) lives as long as the server: kept out of
    # the garbage collector's full passes, which otherwise walk it all and stall a page now and
    # then (a p95 of 250 ms on the report whose median is 85 ms).
    gc.collect()
    gc.freeze()
    with stopped_by_sigterm():
        server.run()
