"""Tests of the settings: embedded defaults, then the config file, then `IBMFLOW_*` variables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ibmflow.config import _SETTINGS, Settings, env_name, load_settings
from ibmflow.errors import ConfigError

FILE_VALUES = """\
[database]
url = "sqlite:////srv/file/ibmflow.db"
sqlite_busy_timeout_ms = 1000

[paths]
data_dir = "/srv/file/data"
workflows_dir = "/srv/file/workflows"
notifications_dir = "/srv/file/notifications"

[process]
country = "SN"
timezone = "Africa/Dakar"
language = "fr"

[cli]
actor = "file@example.org"
"""

# key -> (environment value, Settings attribute, resolved value): each differs from FILE_VALUES.
FROM_ENV: dict[str, tuple[str, str, Any]] = {
    "database.url": (
        "postgresql+psycopg://ibmflow@db.example:5432/ibm",
        "database_url",
        "postgresql+psycopg://ibmflow@db.example:5432/ibm",
    ),
    "paths.data_dir": ("/srv/env/data", "data_dir", Path("/srv/env/data")),
    "paths.workflows_dir": ("/srv/env/workflows", "workflows_dir", Path("/srv/env/workflows")),
    "paths.notifications_dir": (
        "/srv/env/notifications",
        "notifications_dir",
        Path("/srv/env/notifications"),
    ),
    "process.country": ("es", "country", "ES"),
    "process.timezone": ("Europe/Madrid", "timezone", "Europe/Madrid"),
    "process.language": ("en", "language", "en"),
    "process.languages": ("fr, en", "languages", ("fr", "en")),
    "cli.actor": ("env@example.org", "actor", "env@example.org"),
    "database.sqlite_busy_timeout_ms": ("2500", "sqlite_busy_timeout_ms", 2500),
    "smtp.host": ("smtp.interior.example", "smtp_host", "smtp.interior.example"),
    "smtp.port": ("465", "smtp_port", 465),
    "smtp.security": ("TLS", "smtp_security", "tls"),
    "smtp.username": ("ibmflow", "smtp_username", "ibmflow"),
    "smtp.password": ("s3cret", "smtp_password", "s3cret"),
    "smtp.timeout_s": ("12", "smtp_timeout_s", 12),
    "smtp.max_per_connection": ("7", "smtp_max_per_connection", 7),
    "mail.from_address": ("Flow@Interior.example", "mail_from_address", "flow@interior.example"),
    "mail.from_name": ("IBM coordination", "mail_from_name", "IBM coordination"),
    "mail.reply_address": (
        "answers@interior.example",
        "mail_reply_address",
        "answers@interior.example",
    ),
    "mail.base_url": (
        "https://ibm.interior.example/",
        "mail_base_url",
        "https://ibm.interior.example",
    ),
    "mail.token_grace_days": ("3", "mail_token_grace_days", 3),
    "mail.max_attempts": ("4", "mail_max_attempts", 4),
    "mail.retry_base_s": ("5", "mail_retry_base_s", 5),
    "mail.lease_s": ("20", "mail_lease_s", 20),
    "mail.batch": ("25", "mail_batch", 25),
    "mail.quarantine_alert_every_s": ("600", "mail_quarantine_alert_every_s", 600),
    "answers.max_upload_mb": ("7", "answers_max_upload_mb", 7),
    "answers.allowed_types": ("pdf, .DOCX", "answers_allowed_types", ("pdf", "docx")),
    "inbound.host": ("0.0.0.0", "inbound_host", "0.0.0.0"),
    "inbound.port": ("2525", "inbound_port", 2525),
    "inbound.lmtp": ("yes", "inbound_lmtp", True),
    "imap.host": ("imap.interior.example", "imap_host", "imap.interior.example"),
    "imap.port": ("143", "imap_port", 143),
    "imap.username": ("replies", "imap_username", "replies"),
    "imap.password": ("pw", "imap_password", "pw"),
    "imap.folder": ("Replies", "imap_folder", "Replies"),
    "imap.ssl": ("false", "imap_ssl", False),
    "imap.poll_s": ("30", "imap_poll_s", 30),
    "web.host": ("0.0.0.0", "web_host", "0.0.0.0"),
    "web.port": ("8080", "web_port", 8080),
    "web.session_hours": ("8", "web_session_hours", 8),
    "web.login_max_failures": ("3", "web_login_max_failures", 3),
    "web.login_window_min": ("30", "web_login_window_min", 30),
    "web.trusted_proxies": (
        "127.0.0.1,10.0.0.0/8",
        "web_trusted_proxies",
        ("127.0.0.1", "10.0.0.0/8"),
    ),
    "process.weekend": ("fri, sat", "process_weekend", (4, 5)),
    "worker.sweep_every_s": ("30", "worker_sweep_every_s", 30),
    "worker.dispatch_every_s": ("5", "worker_dispatch_every_s", 5),
    "worker.lease_s": ("120", "worker_lease_s", 120),
    "worker.batch": ("50", "worker_batch", 50),
    "worker.digest": ("friday 16:30", "worker_digest", ("fri", 16, 30)),
    "worker.audit_verify_every_s": ("0", "worker_audit_verify_every_s", 0),
}


@pytest.fixture
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder (no config.toml to pick up)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_defaults_without_a_config_file(empty_cwd: Path) -> None:
    """With no file and no variables, the database is `<cwd>/var/ibmflow.db` as an absolute URL."""
    settings = load_settings(environ={})
    root = empty_cwd.resolve()
    assert settings.database_url == f"sqlite:///{root / 'var' / 'ibmflow.db'}"
    assert settings.database_url.startswith("sqlite:////")
    assert settings.data_dir == root / "var"
    assert settings.workflows_dir == root / "workflows"
    assert (settings.country, settings.timezone, settings.language) == (
        "MA",
        "Africa/Casablanca",
        "en",
    )
    assert settings.sqlite_busy_timeout_ms == 15000
    assert settings.actor.startswith("cli:")
    assert settings.documents_dir == root / "var" / "documents"


def test_config_toml_in_the_working_folder_is_read_by_default(empty_cwd: Path) -> None:
    """Without `--config` or IBMFLOW_CONFIG, `./config.toml` is used when it exists."""
    _write(empty_cwd / "config.toml", '[process]\ncountry = "SN"\n')
    assert load_settings(environ={}).country == "SN"


def test_values_come_from_the_config_file(tmp_path: Path) -> None:
    """Every value set in the file is used."""
    path = _write(tmp_path / "config.toml", FILE_VALUES)
    settings = load_settings(config_path=path, environ={})
    assert settings == Settings(
        database_url="sqlite:////srv/file/ibmflow.db",
        data_dir=Path("/srv/file/data"),
        workflows_dir=Path("/srv/file/workflows"),
        notifications_dir=Path("/srv/file/notifications"),
        country="SN",
        timezone="Africa/Dakar",
        language="fr",
        actor="file@example.org",
        sqlite_busy_timeout_ms=1000,
    )


def test_ibmflow_config_variable_names_the_file(empty_cwd: Path, tmp_path: Path) -> None:
    """IBMFLOW_CONFIG chooses the configuration file when none is given explicitly."""
    path = _write(tmp_path / "etc" / "ibmflow.toml", FILE_VALUES)
    assert load_settings(environ={"IBMFLOW_CONFIG": str(path)}).country == "SN"


def test_relative_paths_resolve_against_the_config_files_folder(
    empty_cwd: Path, tmp_path: Path
) -> None:
    """Relative folders and SQLite files in a config file are taken from the file's folder, not cwd."""
    etc = tmp_path / "etc"
    path = _write(
        etc / "config.toml",
        '[paths]\ndata_dir = "state"\nworkflows_dir = "../defs"\n'
        '[database]\nurl = "sqlite:///db/flow.db"\n',
    )
    settings = load_settings(config_path=path, environ={})
    root = etc.resolve()
    assert settings.data_dir == root / "state"
    assert settings.workflows_dir == tmp_path.resolve() / "defs"
    assert settings.database_url == f"sqlite:///{root / 'db' / 'flow.db'}"


def test_default_database_follows_the_configured_data_folder(tmp_path: Path) -> None:
    """Without a database URL, the SQLite file lives in the data folder."""
    path = _write(tmp_path / "config.toml", '[paths]\ndata_dir = "var"\n')
    settings = load_settings(config_path=path, environ={})
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'ibmflow.db'}"


def test_in_memory_sqlite_is_kept(empty_cwd: Path) -> None:
    """`sqlite:///:memory:` is not mistaken for a relative file path."""
    settings = load_settings(environ={"IBMFLOW_DATABASE_URL": "sqlite:///:memory:"})
    assert settings.database_url == "sqlite:///:memory:"


def test_every_setting_is_covered_by_the_override_table() -> None:
    """A new setting cannot be added without an environment-override test."""
    assert set(FROM_ENV) == set(_SETTINGS)


@pytest.mark.parametrize("key", sorted(_SETTINGS))
def test_every_setting_is_overridden_by_its_environment_variable(key: str, tmp_path: Path) -> None:
    """`IBMFLOW_<SECTION>_<NAME>` beats the config file for that setting."""
    path = _write(tmp_path / "config.toml", FILE_VALUES)
    raw, attribute, expected = FROM_ENV[key]
    settings = load_settings(config_path=path, environ={env_name(key): raw})
    assert getattr(settings, attribute) == expected
    assert getattr(load_settings(config_path=path, environ={}), attribute) != expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("database.url", "IBMFLOW_DATABASE_URL"),
        ("database.sqlite_busy_timeout_ms", "IBMFLOW_DATABASE_SQLITE_BUSY_TIMEOUT_MS"),
        ("paths.data_dir", "IBMFLOW_PATHS_DATA_DIR"),
        ("cli.actor", "IBMFLOW_CLI_ACTOR"),
    ],
)
def test_env_name_is_section_and_key_in_capitals(key: str, expected: str) -> None:
    """The variable name is derived from the setting's key."""
    assert env_name(key) == expected


@pytest.mark.parametrize(
    ("key", "toml_value", "env_value", "expected"),
    [
        ("process.country", '"Morocco"', "Morocco", "two-letter ISO 3166 country code"),
        ("process.timezone", '"Mars/Olympus"', "Mars/Olympus", "an IANA time zone"),
        ("process.language", '"de"', "de", "one of en, en_XA, fr"),
        ("database.sqlite_busy_timeout_ms", "-5", "-5", "a whole number of milliseconds"),
        ("database.url", '"mysql://x"', "mysql://x", "a URL starting with sqlite:///"),
    ],
)
@pytest.mark.parametrize("source", ["file", "environment"])
def test_a_wrong_value_names_key_source_and_expected_value(
    key: str,
    toml_value: str,
    env_value: str,
    expected: str,
    source: str,
    tmp_path: Path,
) -> None:
    """The error says which setting, where the value came from and what would be right."""
    section, name = key.split(".")
    if source == "file":
        path = _write(tmp_path / "config.toml", f"[{section}]\n{name} = {toml_value}\n")
        environ: dict[str, str] = {}
        origin = str(path)
    else:
        path = _write(tmp_path / "config.toml", "")
        environ = {env_name(key): env_value}
        origin = f"environment variable {env_name(key)}"
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, environ=environ)
    message = str(caught.value)
    assert key in message
    assert f"(from {origin})" in message
    assert expected in message
    assert env_name(key) in message


def test_an_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    """A misspelt setting is an error naming it and the known settings."""
    path = _write(tmp_path / "config.toml", '[process]\ncontry = "MA"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, environ={})
    message = str(caught.value)
    assert str(path) in message
    assert "unknown setting 'process.contry'" in message
    assert "process.country" in message


def test_a_setting_outside_a_section_is_refused(tmp_path: Path) -> None:
    """A bare `key = value` at the top of the file is an error naming the section expected."""
    path = _write(tmp_path / "config.toml", 'country = "MA"\n')
    with pytest.raises(ConfigError, match=r"\[country\] must be a table"):
        load_settings(config_path=path, environ={})


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    """A broken file is a ConfigError naming the file and the line, not a TOMLDecodeError."""
    path = _write(tmp_path / "config.toml", '[process]\ncountry = "MA\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, environ={})
    message = str(caught.value)
    assert message.startswith(f"{path}: TOML syntax error")
    assert "line 2" in message


def test_ibmflow_config_pointing_to_a_missing_file_is_an_error(tmp_path: Path) -> None:
    """A configuration file that was asked for but is absent is not silently replaced by defaults."""
    missing = tmp_path / "nowhere" / "config.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"IBMFLOW_CONFIG": str(missing)})
    message = str(caught.value)
    assert str(missing) in message
    assert "does not exist" in message
    assert "IBMFLOW_CONFIG" in message


@pytest.mark.parametrize("source", ["file", "environment"])
def test_postgresql_url_is_given_the_psycopg_driver(source: str, tmp_path: Path) -> None:
    """`postgresql://` is rewritten to `postgresql+psycopg://`, the driver ibmflow installs."""
    url = "postgresql://ibmflow@127.0.0.1:5432/ibmflow"
    if source == "file":
        path = _write(tmp_path / "config.toml", f'[database]\nurl = "{url}"\n')
        environ: dict[str, str] = {}
    else:
        path = _write(tmp_path / "config.toml", "")
        environ = {"IBMFLOW_DATABASE_URL": url}
    settings = load_settings(config_path=path, environ=environ)
    assert settings.database_url == "postgresql+psycopg://ibmflow@127.0.0.1:5432/ibmflow"


def test_the_repositorys_config_toml_is_valid(tmp_path: Path) -> None:
    """The shipped `config.toml` loads and matches the embedded defaults."""
    repo_config = Path(__file__).resolve().parent.parent / "config.toml"
    settings = load_settings(config_path=repo_config, environ={})
    root = repo_config.parent.resolve()
    assert settings.data_dir == root / "var"
    assert settings.database_url == f"sqlite:///{root / 'var' / 'ibmflow.db'}"
    assert (settings.country, settings.timezone, settings.language) == (
        "MA",
        "Africa/Casablanca",
        "en",
    )


def test_default_actor_is_cli_user_of_the_given_environment(
    empty_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without cli.actor, the actor is `cli:$USER`, `$USER` read from `environ` like every setting."""
    monkeypatch.setenv("USER", "process-user")
    assert load_settings(environ={"USER": "amina"}).actor == "cli:amina"


def test_a_fractional_busy_timeout_is_refused(tmp_path: Path) -> None:
    """`sqlite_busy_timeout_ms = 2.5` is a wrong value, not silently cut to 2."""
    path = _write(tmp_path / "config.toml", "[database]\nsqlite_busy_timeout_ms = 2.5\n")
    with pytest.raises(ConfigError, match=r"database\.sqlite_busy_timeout_ms"):
        load_settings(config_path=path, environ={})


def test_a_config_path_that_is_a_folder_is_a_config_error(tmp_path: Path) -> None:
    """IBMFLOW_CONFIG naming a folder is reported as a ConfigError, not an OSError traceback."""
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path))):
        load_settings(environ={"IBMFLOW_CONFIG": str(tmp_path)})


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("process.weekend", "mon,tue,wed,thu,fri,sat,sun", "weekday names"),
        ("process.weekend", "fry", "weekday names"),
        ("worker.digest", "someday 07:00", "a weekday and a UTC time"),
        ("worker.digest", "mon 25:00", "a weekday and a UTC time"),
    ],
)
def test_a_wrong_weekend_or_digest_time_is_refused_with_what_is_expected(
    key: str, raw: str, expected: str
) -> None:
    """A weekend with no working day left, or a digest time that is not a weekday and a time."""
    with pytest.raises(ConfigError, match=expected):
        load_settings(config_path=None, environ={env_name(key): raw})


def test_unless_configured_the_mail_links_point_where_the_console_listens(tmp_path: Path) -> None:
    """`ibmflow demo --port N` mails links to port N, not to web.port's default."""
    derived = load_settings(config_path=_write(tmp_path / "a.toml", "[web]\nport = 8080\n"))
    assert derived.mail_base_url == "http://127.0.0.1:8080"
    assert derived.listening_on(None, 9001).mail_base_url == "http://127.0.0.1:9001"
    assert derived.listening_on("0.0.0.0", 9001).mail_base_url == "http://127.0.0.1:9001"
    assert derived.listening_on("::1", 9001).mail_base_url == "http://[::1]:9001"
    configured = _write(tmp_path / "b.toml", '[mail]\nbase_url = "https://ibm.example"\n')
    kept = load_settings(config_path=configured).listening_on("127.0.0.1", 9001)
    assert (kept.mail_base_url, kept.web_port) == ("https://ibm.example", 9001)
