"""CPU time of the console's pages in process: each page through the app with Starlette's test
client (no server, no network), on a data set `bench/pages.py` built and cached, the median of
`--samples` requests after a warm-up. Less noisy than wall time on a shared machine; run it for two
versions one after the other (each worktree's own venv) and compare.

    python bench/pages_cpu.py DB N [--samples 15]   (DB: a cached pages-v1-N-*.db, N its processes)
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
import time
from pathlib import Path

from pages import ADMIN, MANAGER_EMAIL, PASSWORD, env_of, followed
from starlette.testclient import TestClient

from ibmflow.bootstrap import bootstrap
from ibmflow.config import load_settings
from ibmflow.services import accounts
from ibmflow.storage import migrate
from ibmflow.web.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("n", type=int, help="the data set's processes")
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    ctx = bootstrap(load_settings(environ=env_of(args.db)))
    migrate.upgrade(ctx.db)
    app = create_app(ctx)

    def console(email: str) -> TestClient:
        client = TestClient(app, base_url="http://127.0.0.1")
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        form = {"csrf_token": token.group(1), "email": email, "password": PASSWORD}
        assert client.post("/login", data=form, follow_redirects=False).status_code == 303
        return client

    def api(email: str) -> TestClient:
        token = accounts.issue_token(ctx, email, actor="bench", label="bench")
        headers = {"Authorization": f"Bearer {token}"}
        return TestClient(app, base_url="http://127.0.0.1", headers=headers)

    clients = {
        ("administrator", False): console(ADMIN),
        ("manager", False): console(MANAGER_EMAIL),
        ("administrator", True): api(ADMIN),
        ("manager", True): api(MANAGER_EMAIL),
    }
    key = followed(args.n)[0]
    paths = [
        ("/attention", False),
        ("/search?q=customs", False),
        ("/api/search?q=customs", True),
        ("/processes?late=1", False),
        ("/processes", False),
        ("/api/processes", True),
        (f"/p/{key}", False),
        ("/report", False),
        ("/api/report", True),
    ]
    gc.freeze()  # as `ibmflow serve` does
    for who in ("administrator", "manager"):
        for path, is_api in paths:
            client = clients[who, is_api]
            assert client.get(path).status_code == 200, path
            cpu = []
            for _ in range(args.samples):
                began = time.process_time()
                client.get(path)
                cpu.append((time.process_time() - began) * 1000)
            print(
                f"{args.n:>5} {who:<13} {path:<25} cpu median {statistics.median(cpu):7.2f} "
                f"min {min(cpu):7.2f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
