"""Who the client is: `X-Forwarded-For` and `X-Forwarded-Proto` count only when they come from a proxy
listed in `web.trusted_proxies` (none by default), so that a spoofed header neither escapes the
per-address login limit nor locks another address out. Through real servers on loopback."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx
import pytest
from sqlmodel import select
from webconsole import EMAILS, PASSWORD, Site, csrf_of, log_in

from ibmflow.access import MANAGER
from ibmflow.config import load_settings
from ibmflow.errors import ConfigError
from ibmflow.services.context import Context
from ibmflow.storage.account_tables import LoginAttemptRow

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _fail_from(client: httpx.Client, n: int, forwarded_for: str) -> None:
    """One failed login for an unknown account (so only the address limit can count it)."""
    client.headers["X-Forwarded-For"] = forwarded_for
    failed = log_in(client, f"nobody{n}@nowhere.example", "not the password")
    assert failed.status_code == 401, failed.text


def _clients_recorded(ctx: Context) -> set[str]:
    with ctx.db.reading() as session:
        return set(session.exec(select(LoginAttemptRow.client)))


def _trusting(site: Site, start: Callable[[Context], str], *proxies: str) -> str:
    """A second server on the same database whose settings trust `proxies`."""
    site.ctx.settings = dataclasses.replace(site.ctx.settings, web_trusted_proxies=proxies)
    return start(site.ctx)


@sqlite_only
def test_a_spoofed_forwarded_for_does_not_escape_the_per_address_login_limit(site: Site) -> None:
    client = site.client()
    for n in range(5):  # five addresses claimed, one real peer
        _fail_from(client, n, f"198.51.100.{n + 1}")
    client.headers["X-Forwarded-For"] = "198.51.100.99"
    paused = log_in(client, EMAILS[MANAGER])  # the right password, from the same real peer
    assert paused.status_code == 429, "the spoofed header spread the failures over addresses"
    assert _clients_recorded(site.ctx) == {"127.0.0.1"}


@sqlite_only
def test_a_spoofed_forwarded_for_cannot_lock_out_another_address(
    site: Site, start: Callable[[Context], str]
) -> None:
    victim = "203.0.113.7"
    attacker = site.client()
    for n in range(5):
        _fail_from(attacker, n, victim)
    assert victim not in _clients_recorded(site.ctx)
    # The victim, really behind a trusted proxy, logs in all the same.
    proxied = httpx.Client(base_url=_trusting(site, start, "127.0.0.1"), timeout=30)
    site.clients.append(proxied)
    proxied.headers["X-Forwarded-For"] = victim
    assert log_in(proxied, EMAILS[MANAGER]).status_code == 303


@sqlite_only
def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(
    site: Site, start: Callable[[Context], str]
) -> None:
    client = httpx.Client(base_url=_trusting(site, start, "10.0.0.0/8", "127.0.0.1"), timeout=30)
    site.clients.append(client)
    for n in range(5):
        _fail_from(client, n, "198.51.100.1")
    client.headers["X-Forwarded-For"] = "198.51.100.1"
    assert log_in(client, EMAILS[MANAGER]).status_code == 429
    client.headers["X-Forwarded-For"] = "198.51.100.2"  # another client of the same proxy
    assert log_in(client, EMAILS[MANAGER]).status_code == 303
    assert _clients_recorded(site.ctx) == {"198.51.100.1", "198.51.100.2"}


@sqlite_only
def test_forwarded_proto_makes_cookies_secure_only_from_a_trusted_proxy(
    site: Site, start: Callable[[Context], str]
) -> None:
    untrusted = site.client()
    untrusted.headers["X-Forwarded-Proto"] = "https"
    assert "secure" not in untrusted.get("/login").headers["set-cookie"].lower()

    proxied = httpx.Client(base_url=_trusting(site, start, "127.0.0.1"), timeout=30)
    site.clients.append(proxied)
    proxied.headers["X-Forwarded-Proto"] = "https"
    form = proxied.get("/login")
    assert "; secure" in form.headers["set-cookie"].lower()
    # httpx keeps Secure cookies for https addresses only: the login form's cookie goes by hand.
    tls = proxied.post(
        "/login",
        data={"csrf_token": csrf_of(form), "email": EMAILS[MANAGER], "password": PASSWORD},
        headers={"Cookie": f"ibmflow_login={form.cookies['ibmflow_login']}"},
    )
    assert tls.status_code == 303
    assert "; secure" in tls.headers["set-cookie"].split(",")[0].lower()


def test_trusted_proxies_are_addresses_or_networks() -> None:
    env = {"IBMFLOW_WEB_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"}
    settings = load_settings(config_path=None, environ=env)
    assert settings.web_trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    assert load_settings(config_path=None, environ={}).web_trusted_proxies == ()
    for wrong in ("*", "proxy.example", "10.0.0.0/33"):
        with pytest.raises(ConfigError, match=r"web\.trusted_proxies"):
            load_settings(config_path=None, environ={"IBMFLOW_WEB_TRUSTED_PROXIES": wrong})
