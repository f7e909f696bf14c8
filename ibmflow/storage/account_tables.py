"""SQLModel tables of the web console's accounts: users, their processes, sessions, API tokens and
login attempts. Secrets are never stored: passwords as argon2 hashes, tokens as SHA-256."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ibmflow.storage.columns import when as _when


class UserAccountRow(SQLModel, table=True):
    """A person who logs in to the web console: role, argon2 password hash, disabled or not."""

    __tablename__ = "user_account"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=500)
    disabled: bool = False
    # The console's language for this account (and its digest mails); None: the deployment's.
    language: str | None = Field(default=None, max_length=16)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class AccountProcessRow(SQLModel, table=True):
    """A process an account may see (administrators see every process without rows here)."""

    __tablename__ = "account_process"
    __table_args__ = (sa.UniqueConstraint("account_id", "process_id"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="user_account.id", index=True)
    process_id: int = Field(foreign_key="process.id")


class WebSessionRow(SQLModel, table=True):
    """A logged-in browser: only the SHA-256 of the cookie's token is kept, with its expiry."""

    __tablename__ = "web_session"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _when()
    expires_at: datetime = _when()
    ended_at: datetime | None = _when(nullable=True)


class ApiTokenRow(SQLModel, table=True):
    """A bearer token for the JSON API; only its SHA-256 is kept."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=100)
    created_at: datetime = _when()
    revoked_at: datetime | None = _when(nullable=True)


class LoginAttemptRow(SQLModel, table=True):
    """One login attempt, kept a while so that the rate limit holds across server workers."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        sa.Index("ix_login_attempt_email", "email", "at"),
        sa.Index("ix_login_attempt_client", "client", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when()
    email: str = Field(max_length=254)
    client: str = Field(max_length=64)
    succeeded: bool = False
