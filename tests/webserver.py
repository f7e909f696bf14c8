"""The web tests' server: ibmflow's app served by a real uvicorn in a thread, on a free loopback port.

`start(ctx)` returns the base URL; the links that mails carry (`mail.base_url`) point at it, so a test
can follow them. Every server started is stopped when the test ends. `serve(ctx, stack)` does the
same for a fixture of a wider scope, stopped when its stack closes.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from ibmflow.services.context import Context
from ibmflow.web.server import build_server


def serve(ctx: Context, stack: ExitStack) -> str:
    """Start a real uvicorn server for a context in a thread; its base URL. Stopped with `stack`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    stack.callback(sock.close)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ctx.settings = dataclasses.replace(ctx.settings, mail_base_url=url)
    server = build_server(ctx, host="127.0.0.1", port=0, log_level="info", log_config=None)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "the server did not stop"

    stack.callback(stop)
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    return url


@pytest.fixture
def start() -> Iterator[Callable[[Context], str]]:
    """Start a real uvicorn server for a context in a thread; return its base URL. Stopped after."""
    with ExitStack() as stack:
        yield lambda ctx: serve(ctx, stack)
