"""Settings: embedded defaults, then `config.toml`, then `IBMFLOW_*` environment variables.

Every setting has a key (`database.url`) and an environment variable (`IBMFLOW_DATABASE_URL`). A wrong
value is reported with its key, where it came from and the value expected. The parsers of the values
are in `config_values`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ibmflow import config_values as check
from ibmflow.errors import ConfigError

DEFAULT_ALLOWED_TYPES = (
    "pdf",
    "doc",
    "docx",
    "odt",
    "xls",
    "xlsx",
    "ods",
    "csv",
    "txt",
    "png",
    "jpg",
    "jpeg",
    "zip",
)
SMTP_SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one ibmflow deployment."""

    database_url: str
    data_dir: Path
    workflows_dir: Path
    country: str
    timezone: str
    language: str
    actor: str
    sqlite_busy_timeout_ms: int
    notifications_dir: Path = Path("notifications")
    # The languages this deployment offers (mails, pages, definitions); `language` is the default.
    languages: tuple[str, ...] = ("en", "fr")
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_timeout_s: int = 30
    smtp_max_per_connection: int = 100
    mail_from_address: str = "ibmflow@ibmflow.invalid"
    mail_from_name: str = "ibmflow"
    mail_reply_address: str = "replies@ibmflow.invalid"
    mail_base_url: str = "http://127.0.0.1:8000"
    # True when mail.base_url is not configured: the links then follow where the console listens.
    mail_base_url_derived: bool = True
    mail_token_grace_days: int = 14
    mail_max_attempts: int = 8
    mail_retry_base_s: int = 30
    mail_lease_s: int = 60
    mail_batch: int = 200
    mail_quarantine_alert_every_s: int = 3600
    answers_max_upload_mb: int = 20
    answers_allowed_types: tuple[str, ...] = DEFAULT_ALLOWED_TYPES
    inbound_host: str = "127.0.0.1"
    inbound_port: int = 8025
    inbound_lmtp: bool = False
    imap_host: str | None = None
    imap_port: int = 993
    imap_username: str | None = None
    imap_password: str | None = field(default=None, repr=False)
    imap_folder: str = "INBOX"
    imap_ssl: bool = True
    imap_poll_s: int = 60
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    web_session_hours: int = 12
    web_login_max_failures: int = 5
    web_login_window_min: int = 15
    web_trusted_proxies: tuple[str, ...] = ()
    process_weekend: tuple[int, ...] = (5, 6)
    worker_sweep_every_s: int = 60
    worker_dispatch_every_s: int = 15
    worker_lease_s: int = 300
    worker_batch: int = 500
    worker_digest: tuple[str, int, int] = ("mon", 7, 0)
    worker_audit_verify_every_s: int = 86400

    def listening_on(self, host: str | None, port: int | None) -> Settings:
        """These settings for a console listening on `host:port` (None: as configured); unless
        mail.base_url is configured, the links in mails follow it there."""
        host, port = host or self.web_host, self.web_port if port is None else port
        base_url = console_url(host, port) if self.mail_base_url_derived else self.mail_base_url
        return replace(self, web_host=host, web_port=port, mail_base_url=base_url)

    @property
    def mailbox_dir(self) -> Path:
        """Where outgoing mail is captured when no SMTP server is configured."""
        return self.data_dir / "mailbox"

    @property
    def documents_dir(self) -> Path:
        """Where attached documents are stored, content-addressed."""
        return self.data_dir / "documents"


def console_url(host: str, port: int) -> str:
    """The address a browser on this machine opens for a console listening on host:port (the
    loopback address for a wildcard one)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


# key -> (parser, default). The database URL defaults to a file in the data folder.
_SETTINGS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "database.url": (check.database_url, None),
    "paths.data_dir": (check.nonblank, "var"),
    "paths.workflows_dir": (check.nonblank, "workflows"),
    "paths.notifications_dir": (check.nonblank, "notifications"),
    "process.country": (check.country, "MA"),
    "process.timezone": (check.timezone, "Africa/Casablanca"),
    "process.language": (check.language, "en"),
    "process.weekend": (check.weekend, ("sat", "sun")),
    "process.languages": (check.languages, ("en", "fr")),
    "cli.actor": (check.nonblank, None),
    "database.sqlite_busy_timeout_ms": (check.positive_int, 15000),
    "smtp.host": (check.nonblank, None),
    "smtp.port": (check.whole("port", 1, 65535), 587),
    "smtp.security": (check.choice(*SMTP_SECURITY), "starttls"),
    "smtp.username": (check.nonblank, None),
    "smtp.password": (check.nonblank, None),
    "smtp.timeout_s": (check.whole("seconds", 1, 600), 30),
    "smtp.max_per_connection": (check.whole("messages", 1, 100000), 100),
    "mail.from_address": (check.address, "ibmflow@ibmflow.invalid"),
    "mail.from_name": (check.nonblank, "ibmflow"),
    "mail.reply_address": (check.address, "replies@ibmflow.invalid"),
    "mail.base_url": (check.url, None),  # None: the console's address, web.host:web.port
    "mail.token_grace_days": (check.whole("days", 0, 365), 14),
    "mail.max_attempts": (check.whole("attempts", 1, 100), 8),
    "mail.retry_base_s": (check.whole("seconds", 1, 86400), 30),
    "mail.lease_s": (check.whole("seconds", 10, 86400), 60),
    "mail.batch": (check.whole("mails", 1, 100000), 200),
    "mail.quarantine_alert_every_s": (check.whole("seconds", 0, 7 * 86400), 3600),
    "answers.max_upload_mb": (check.whole("megabytes", 1, 500), 20),
    "answers.allowed_types": (check.extensions, DEFAULT_ALLOWED_TYPES),
    "inbound.host": (check.nonblank, "127.0.0.1"),
    "inbound.port": (check.whole("port", 1, 65535), 8025),
    "inbound.lmtp": (check.flag, False),
    "imap.host": (check.nonblank, None),
    "imap.port": (check.whole("port", 1, 65535), 993),
    "imap.username": (check.nonblank, None),
    "imap.password": (check.nonblank, None),
    "imap.folder": (check.nonblank, "INBOX"),
    "imap.ssl": (check.flag, True),
    "imap.poll_s": (check.whole("seconds", 5, 86400), 60),
    "web.host": (check.nonblank, "127.0.0.1"),
    "web.port": (check.whole("port", 1, 65535), 8000),
    "web.session_hours": (check.whole("hours", 1, 24 * 30), 12),
    "web.login_max_failures": (check.whole("failures", 1, 1000), 5),
    "web.login_window_min": (check.whole("minutes", 1, 24 * 60), 15),
    "web.trusted_proxies": (check.proxies, ()),
    "worker.sweep_every_s": (check.whole("seconds", 1, 86400), 60),
    "worker.dispatch_every_s": (check.whole("seconds", 1, 86400), 15),
    "worker.lease_s": (check.whole("seconds", 10, 86400), 300),
    "worker.batch": (check.whole("rungs", 1, 100000), 500),
    "worker.digest": (check.weekly, "mon 07:00"),
    "worker.audit_verify_every_s": (check.whole("seconds", 0, 7 * 86400), 86400),
}


def env_name(key: str) -> str:
    """The environment variable that overrides a setting: `database.url` -> `IBMFLOW_DATABASE_URL`."""
    return "IBMFLOW_" + key.replace(".", "_").upper()


def _flatten(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{section}] must be a table of settings")
        for name, value in values.items():
            key = f"{section}.{name}"
            if key not in _SETTINGS:
                raise ConfigError(
                    f"{source}: unknown setting {key!r}; known settings: "
                    f"{', '.join(sorted(_SETTINGS))}"
                )
            flat[key] = value
    return flat


def default_config_path(environ: Mapping[str, str]) -> Path | None:
    """`IBMFLOW_CONFIG`, else `config.toml` in the working folder, else none (embedded defaults)."""
    if "IBMFLOW_CONFIG" in environ:
        return Path(environ["IBMFLOW_CONFIG"])
    candidate = Path("config.toml")
    return candidate if candidate.is_file() else None


def load_settings(
    config_path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve the settings; raise ConfigError naming the key and the value expected."""
    env = os.environ if environ is None else environ
    path = config_path if config_path is not None else default_config_path(env)
    values: dict[str, tuple[Any, str]] = {k: (d, "default") for k, (_, d) in _SETTINGS.items()}
    base = Path.cwd()
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"configuration file {path} does not exist; create it or unset IBMFLOW_CONFIG"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: TOML syntax error: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"configuration file {path} cannot be read: {exc}") from None
        values.update({k: (v, str(path)) for k, v in _flatten(data, str(path)).items()})
        base = path.resolve().parent
    for key in _SETTINGS:
        if env_name(key) in env:
            values[key] = (env[env_name(key)], f"environment variable {env_name(key)}")
    resolved: dict[str, Any] = {}
    for key, (raw, source) in values.items():
        parser = _SETTINGS[key][0]
        if raw is None:
            resolved[key] = None
            continue
        try:
            resolved[key] = parser(raw)
        except ValueError as exc:
            raise ConfigError(
                f"setting {key} = {raw!r} (from {source}) is wrong: expected {exc}; "
                f"fix it in the configuration file or in {env_name(key)}"
            ) from None
    data_dir = (base / resolved["paths.data_dir"]).resolve()
    url = resolved["database.url"] or f"sqlite:///{data_dir / 'ibmflow.db'}"
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            url = f"sqlite:///{(base / relative).resolve()}"
    derived = resolved["mail.base_url"] is None
    if derived:
        resolved["mail.base_url"] = console_url(resolved["web.host"], resolved["web.port"])
    return Settings(
        database_url=url,
        mail_base_url_derived=derived,
        data_dir=data_dir,
        workflows_dir=(base / resolved["paths.workflows_dir"]).resolve(),
        notifications_dir=(base / resolved["paths.notifications_dir"]).resolve(),
        country=resolved["process.country"],
        timezone=resolved["process.timezone"],
        language=resolved["process.language"],
        languages=resolved["process.languages"],
        actor=resolved["cli.actor"] or f"cli:{env.get('USER', 'coordinator')}",
        sqlite_busy_timeout_ms=resolved["database.sqlite_busy_timeout_ms"],
        **{
            key.replace(".", "_"): resolved[key]
            for key in _SETTINGS
            if key.split(".")[0] in ("smtp", "mail", "answers", "inbound", "imap", "web", "worker")
            or key == "process.weekend"
        },
    )
