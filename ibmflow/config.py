"""Settings: embedded defaults, then `config.toml`, then `IBMFLOW_*` environment variables.

Every setting has a key (`database.url`) and an environment variable (`IBMFLOW_DATABASE_URL`). A wrong
value is reported with its key, where it came from and the value expected.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ibmflow.errors import ConfigError

LANGUAGES = ("en", "fr")


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

    @property
    def documents_dir(self) -> Path:
        """Where attached documents are stored, content-addressed."""
        return self.data_dir / "documents"


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
    "process.country": (_country, "MA"),
    "process.timezone": (_timezone, "Africa/Casablanca"),
    "process.language": (_language, "en"),
    "cli.actor": (_text, None),
    "database.sqlite_busy_timeout_ms": (_positive_int, 15000),
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
    return Settings(
        database_url=url,
        data_dir=data_dir,
        workflows_dir=(base / resolved["paths.workflows_dir"]).resolve(),
        country=resolved["process.country"],
        timezone=resolved["process.timezone"],
        language=resolved["process.language"],
        actor=resolved["cli.actor"] or f"cli:{env.get('USER', 'coordinator')}",
        sqlite_busy_timeout_ms=resolved["database.sqlite_busy_timeout_ms"],
    )
