"""Settings: embedded defaults, then `config.toml`, then `IBMFLOW_*` environment variables.

Every setting has a key (`database.url`) and an environment variable (`IBMFLOW_DATABASE_URL`). A wrong
value is reported with its key, where it came from and the value expected.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ibmflow.errors import ConfigError

LANGUAGES = ("en", "fr")
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


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty text")
    return value.strip()


def _country(value: Any) -> str:
    text = _text(value).upper()
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise ValueError("a two-letter ISO 3166 country code such as MA, SN or ES")
    return text


def _timezone(value: Any) -> str:
    text = _text(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA time zone such as Africa/Casablanca or Europe/Madrid") from None
    return text


def _language(value: Any) -> str:
    text = _text(value)
    if text not in LANGUAGES:
        raise ValueError(f"one of {', '.join(LANGUAGES)}")
    return text


def _positive_int(value: Any) -> int:
    expected = "a whole number of milliseconds, at least 1"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(expected)
    if isinstance(value, str) and not value.strip().isdigit():
        raise ValueError(expected)
    number = int(value)
    if number < 1:
        raise ValueError(expected)
    return number


def _whole(unit: str, minimum: int = 1, maximum: int | None = None) -> Callable[[Any], int]:
    expected = f"a whole number of {unit} from {minimum}" + (f" to {maximum}" if maximum else "")

    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(expected)
        if isinstance(value, str) and not value.strip().isdigit():
            raise ValueError(expected)
        number = int(value)
        if number < minimum or (maximum is not None and number > maximum):
            raise ValueError(expected)
        return number

    return parse


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ValueError("true or false")


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value).lower()
        if text not in choices:
            raise ValueError(f"one of {', '.join(choices)}")
        return text

    return parse


def _address(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", text):
        raise ValueError("one mail address such as ibmflow@interior.example")
    return text.lower()


def _url(value: Any) -> str:
    text = _text(value).rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", text):
        raise ValueError("an http:// or https:// address such as https://ibmflow.interior.example")
    return text


def _types(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError('a list of file extensions such as ["pdf", "docx"]')
    out = tuple(str(item).strip().lower().lstrip(".") for item in items)
    if not all(re.fullmatch(r"[a-z0-9]{1,10}", x) for x in out):
        raise ValueError('a list of file extensions such as ["pdf", "docx"]')
    return out


def _proxies(value: Any) -> tuple[str, ...]:
    expected = 'a list of proxy addresses or networks such as ["127.0.0.1", "10.0.0.0/8"]'
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(expected)
    out = tuple(str(item).strip() for item in items if str(item).strip())
    try:
        for item in out:
            ipaddress.ip_network(item, strict=False)
    except ValueError:
        raise ValueError(expected) from None
    return out


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekend(value: Any) -> tuple[int, ...]:
    expected = (
        'a list of weekday names such as ["sat", "sun"] or ["fri", "sat"], leaving working days'
    )
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(expected)
    names = [str(item).strip().lower()[:3] for item in items if str(item).strip()]
    if any(name not in _WEEKDAYS for name in names) or len(set(names)) == len(_WEEKDAYS):
        raise ValueError(expected)
    return tuple(sorted({_WEEKDAYS.index(name) for name in names}))


def _weekly(value: Any) -> tuple[str, int, int]:
    expected = 'a weekday and a UTC time such as "mon 07:00"'
    match = re.fullmatch(r"\s*([a-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})\s*", str(value).lower())
    if not match or match[1] not in _WEEKDAYS or int(match[2]) > 23 or int(match[3]) > 59:
        raise ValueError(expected)
    return match[1], int(match[2]), int(match[3])


def _database_url(value: Any) -> str:
    text = _text(value)
    if not re.match(r"^(sqlite|postgresql(\+psycopg)?)://", text):
        raise ValueError("a URL starting with sqlite:/// or postgresql+psycopg://")
    if text.startswith("postgresql://"):
        text = "postgresql+psycopg://" + text.removeprefix("postgresql://")
    return text


# key -> (parser, default). The database URL defaults to a file in the data folder.
_SETTINGS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "database.url": (_database_url, None),
    "paths.data_dir": (_text, "var"),
    "paths.workflows_dir": (_text, "workflows"),
    "paths.notifications_dir": (_text, "notifications"),
    "process.country": (_country, "MA"),
    "process.timezone": (_timezone, "Africa/Casablanca"),
    "process.language": (_language, "en"),
    "process.weekend": (_weekend, ("sat", "sun")),
    "cli.actor": (_text, None),
    "database.sqlite_busy_timeout_ms": (_positive_int, 15000),
    "smtp.host": (_text, None),
    "smtp.port": (_whole("port", 1, 65535), 587),
    "smtp.security": (_choice(*SMTP_SECURITY), "starttls"),
    "smtp.username": (_text, None),
    "smtp.password": (_text, None),
    "smtp.timeout_s": (_whole("seconds", 1, 600), 30),
    "smtp.max_per_connection": (_whole("messages", 1, 100000), 100),
    "mail.from_address": (_address, "ibmflow@ibmflow.invalid"),
    "mail.from_name": (_text, "ibmflow"),
    "mail.reply_address": (_address, "replies@ibmflow.invalid"),
    "mail.base_url": (_url, None),  # None: the console's address, web.host:web.port
    "mail.token_grace_days": (_whole("days", 0, 365), 14),
    "mail.max_attempts": (_whole("attempts", 1, 100), 8),
    "mail.retry_base_s": (_whole("seconds", 1, 86400), 30),
    "mail.lease_s": (_whole("seconds", 10, 86400), 60),
    "mail.batch": (_whole("mails", 1, 100000), 200),
    "mail.quarantine_alert_every_s": (_whole("seconds", 0, 7 * 86400), 3600),
    "answers.max_upload_mb": (_whole("megabytes", 1, 500), 20),
    "answers.allowed_types": (_types, DEFAULT_ALLOWED_TYPES),
    "inbound.host": (_text, "127.0.0.1"),
    "inbound.port": (_whole("port", 1, 65535), 8025),
    "inbound.lmtp": (_bool, False),
    "imap.host": (_text, None),
    "imap.port": (_whole("port", 1, 65535), 993),
    "imap.username": (_text, None),
    "imap.password": (_text, None),
    "imap.folder": (_text, "INBOX"),
    "imap.ssl": (_bool, True),
    "imap.poll_s": (_whole("seconds", 5, 86400), 60),
    "web.host": (_text, "127.0.0.1"),
    "web.port": (_whole("port", 1, 65535), 8000),
    "web.session_hours": (_whole("hours", 1, 24 * 30), 12),
    "web.login_max_failures": (_whole("failures", 1, 1000), 5),
    "web.login_window_min": (_whole("minutes", 1, 24 * 60), 15),
    "web.trusted_proxies": (_proxies, ()),
    "worker.sweep_every_s": (_whole("seconds", 1, 86400), 60),
    "worker.dispatch_every_s": (_whole("seconds", 1, 86400), 15),
    "worker.lease_s": (_whole("seconds", 10, 86400), 300),
    "worker.batch": (_whole("rungs", 1, 100000), 500),
    "worker.digest": (_weekly, "mon 07:00"),
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
        actor=resolved["cli.actor"] or f"cli:{env.get('USER', 'coordinator')}",
        sqlite_busy_timeout_ms=resolved["database.sqlite_busy_timeout_ms"],
        **{
            key.replace(".", "_"): resolved[key]
            for key in _SETTINGS
            if key.split(".")[0] in ("smtp", "mail", "answers", "inbound", "imap", "web", "worker")
            or key == "process.weekend"
        },
    )
