"""Who may use the web dashboard and API, and what they did there.

Users (name, role, scrypt password hash), API tokens (stored as SHA-256 of a
random secret: shown once), login sessions (also stored hashed), the audit
trail, background jobs and monitoring alerts live in the inventory database
beside the snapshots (migration 0003), so a team shares one file or server. A
watch keeps its configuration in its job row (migration 0005_watch_config) so
that the next server resumes it. Each `serve` process holds a lease (a row in
``web_server`` renewed by a heartbeat, migration 0006_server_lease) and each job
row names its owner, so that a server only takes over the jobs of a server
whose lease has expired.

Secrets never reach the database in the clear: a stolen database gives no
password, token or session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Table, Text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, mapped_column

from vendorscope.store.models import Base

# scrypt at n=2**14, r=8 (16 MiB, tens of milliseconds): the work factor
# OWASP names for scrypt; stored with the hash so it can be raised later.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_LIFETIME = timedelta(hours=12)
TOKEN_PREFIX = "vst_"
MAX_NAME = 200


class Role(StrEnum):
    """What a user or token may do; each role may do everything the one before it may."""

    viewer = "viewer"
    analyst = "analyst"
    admin = "admin"

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message is one line."""


class UserRow(Base):
    __tablename__ = "web_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime]


class TokenRow(Base):
    __tablename__ = "web_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class SessionRow(Base):
    __tablename__ = "web_session"

    session_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class AuditRow(Base):
    __tablename__ = "web_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(MAX_NAME))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(400), index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class JobRow(Base):
    __tablename__ = "web_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(400))
    state: Mapped[str] = mapped_column(String(20))  # queued, running, done, failed
    done: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    snapshot_id: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(String(MAX_NAME))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # What a job needs to start again in the next server (a watch's scope, addresses, interval, webhook
    # and when its last round began); migration 0005_watch_config. None for one-off jobs.
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The server (web_server.id) running the job; migration 0006_server_lease. No foreign key on purpose:
    # a server's row goes when it stops or expires, and its jobs must still say who ran them.
    owner: Mapped[str | None] = mapped_column(String(36))


class ServerRow(Base):
    """A `serve` process's lease: alive while ``heartbeat_at`` is recent (migration 0006_server_lease)."""

    __tablename__ = "web_server"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a random UUID, one per process
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class AlertRow(Base):
    __tablename__ = "web_alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    snapshot_id: Mapped[int | None]


user_table = cast(Table, UserRow.__table__)
token_table = cast(Table, TokenRow.__table__)
session_table = cast(Table, SessionRow.__table__)
audit_table = cast(Table, AuditRow.__table__)
job_table = cast(Table, JobRow.__table__)
alert_table = cast(Table, AlertRow.__table__)
server_table = cast(Table, ServerRow.__table__)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a logged-in user or an API token."""

    name: str
    role: Role
    kind: str  # "session" or "token"
    csrf: str | None = None  # the session's CSRF token


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    name: str
    state: str
    done: int
    total: int
    message: str | None
    error: str | None
    snapshot_id: int | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    config: dict[str, Any] | None = None
    owner: str | None = None  # the server running it (web_server.id)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        return 0 if self.total <= 0 else min(99, int(100 * self.done / self.total))


@dataclass(frozen=True, slots=True)
class Server:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    at: datetime
    kind: str
    message: str
    detail: dict[str, Any]
    snapshot_id: int | None


# ---------------------------------------------------------------- secrets (pure)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(_unb64(digest))
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def secret_hash(secret: str) -> str:
    """Tokens and session ids are long random strings: one SHA-256 is enough to store them."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(not c.isprintable() for c in name):
        raise AccountError(f"a name is 1 to {MAX_NAME} printable characters, not {name!r}")
    return name


def role_of(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise AccountError(f"unknown role {text!r}; roles: {', '.join(Role)}") from None


# ---------------------------------------------------------------- the store


class Accounts:
    """Accounts, sessions, audit trail, jobs and alerts in an inventory's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE, waiting up to
        the busy timeout) instead of failing when a reading transaction tries to write beside an import."""
        with self.engine.connect() as conn:
            conn.execution_options(for_write=True)
            with conn.begin():
                yield conn

    # ---- users

    def add_user(self, name: str, role: Role | str, password: str) -> User:
        name = check_name(name)
        role = role_of(role) if not isinstance(role, Role) else role
        if len(password) < 8:
            raise AccountError("a password has at least 8 characters")
        now = datetime.now(UTC)
        with self._write() as conn:
            if conn.execute(sa.select(user_table.c.id).where(user_table.c.name == name)).first():
                raise AccountError(f"user {name!r} exists already")
            result = conn.execute(
                user_table.insert().values(name=name, role=role.value, password_hash=hash_password(password),
                                           created_at=now)
            )
            key = result.inserted_primary_key
            assert key is not None
        return User(int(key[0]), name, role, now)

    def users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(user_table).order_by(user_table.c.name))
            return [User(r.id, r.name, Role(r.role), r.created_at) for r in rows]

    def remove_user(self, name: str) -> None:
        with self._write() as conn:
            found = conn.execute(sa.select(user_table.c.id).where(user_table.c.name == name)).first()
            if found is None:
                raise AccountError(f"no user {name!r}")
            conn.execute(session_table.delete().where(session_table.c.user_id == found.id))
            conn.execute(user_table.delete().where(user_table.c.id == found.id))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is theirs; the hash is computed even for unknown names (no timing oracle)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(user_table).where(user_table.c.name == name)).first()
        stored = row.password_hash if row is not None else _dummy_hash()
        ok = check_password(password, stored)
        return User(row.id, row.name, Role(row.role), row.created_at) if ok and row is not None else None

    # ---- tokens

    def create_token(self, name: str, role: Role | str) -> tuple[Token, str]:
        """A new API token and its secret (the only time the secret exists outside the caller)."""
        name = check_name(name)
        role = role_of(role) if not isinstance(role, Role) else role
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self._write() as conn:
            result = conn.execute(
                token_table.insert().values(name=name, role=role.value, token_hash=secret_hash(secret),
                                            created_at=now, revoked_at=None)
            )
            key = result.inserted_primary_key
            assert key is not None
        return Token(int(key[0]), name, role, now, None), secret

    def tokens(self) -> list[Token]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(token_table).order_by(token_table.c.id))
            return [Token(r.id, r.name, Role(r.role), r.created_at, r.revoked_at) for r in rows]

    def revoke_token(self, name_or_id: str) -> int:
        """Revoke the tokens of that name (or the one with that id); returns how many."""
        t = token_table.c
        match = t.name == name_or_id
        if name_or_id.isdigit():
            match = sa.or_(match, t.id == int(name_or_id))
        with self._write() as conn:
            result = conn.execute(
                token_table.update().where(match, t.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC))
            )
        if not result.rowcount:
            raise AccountError(f"no active token {name_or_id!r}")
        return int(result.rowcount)

    def token_principal(self, secret: str) -> Principal | None:
        t = token_table.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.name, t.role).where(t.token_hash == secret_hash(secret), t.revoked_at.is_(None))
            ).first()
        return Principal(f"token:{row.name}", Role(row.role), "token") if row is not None else None

    # ---- sessions

    def create_session(self, user: User) -> tuple[str, str]:
        """A new session for ``user``: (session secret for the cookie, CSRF token)."""
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self._write() as conn:
            conn.execute(session_table.delete().where(session_table.c.expires_at < now))
            conn.execute(session_table.insert().values(session_hash=secret_hash(secret), user_id=user.id, csrf=csrf,
                                                       created_at=now, expires_at=now + SESSION_LIFETIME))
        return secret, csrf

    def session_principal(self, secret: str) -> Principal | None:
        s, u = session_table.c, user_table.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(u.name, u.role, s.csrf, s.expires_at)
                .join_from(session_table, user_table, s.user_id == u.id)
                .where(s.session_hash == secret_hash(secret))
            ).first()
        if row is None or row.expires_at <= datetime.now(UTC):
            return None
        return Principal(row.name, Role(row.role), "session", row.csrf)

    def end_session(self, secret: str) -> None:
        with self._write() as conn:
            conn.execute(session_table.delete().where(session_table.c.session_hash == secret_hash(secret)))

    # ---- audit trail

    def audit(self, actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None) -> None:
        with self._write() as conn:
            conn.execute(audit_table.insert().values(at=datetime.now(UTC), actor=actor[:MAX_NAME], action=action,
                                                     target=None if target is None else target[:400],
                                                     detail=detail or {}))

    def audit_trail(self, target: str | None = None, limit: int = 200) -> list[AuditEntry]:
        a = audit_table.c
        query = sa.select(audit_table).order_by(a.id.desc()).limit(limit)
        if target is not None:
            query = query.where(a.target == target)
        with self.engine.connect() as conn:
            return [AuditEntry(r.id, r.at, r.actor, r.action, r.target, dict(r.detail or {}))
                    for r in conn.execute(query)]

    # ---- jobs

    def create_job(self, kind: str, name: str, created_by: str, total: int = 0,
                   config: dict[str, Any] | None = None, owner: str | None = None) -> Job:
        now = datetime.now(UTC)
        with self._write() as conn:
            result = conn.execute(job_table.insert().values(
                kind=kind, name=name[:400], state="queued", done=0, total=total, message=None, error=None,
                snapshot_id=None, created_by=created_by, created_at=now, finished_at=None, config=config,
                owner=owner))
            key = result.inserted_primary_key
            assert key is not None
        job = self.job(int(key[0]))
        assert job is not None
        return job

    def update_job(self, job_id: int, *, only_owner: str | None = None, only_unfinished: bool = False,
                   **values: Any) -> bool:
        """Write ``values`` into the job; with ``only_owner``, only while that server owns it (a server
        whose lease was taken over must not write over its successor); with ``only_unfinished``, only
        while it is not done or failed (a watch stopped from another server stays stopped).
        True if the row was written."""
        if values.get("state") in ("done", "failed"):
            values.setdefault("finished_at", datetime.now(UTC))
        match = job_table.c.id == job_id
        if only_owner is not None:
            match = sa.and_(match, job_table.c.owner == only_owner)
        if only_unfinished:
            match = sa.and_(match, job_table.c.state.not_in(("done", "failed")))
        with self._write() as conn:
            return bool(conn.execute(job_table.update().where(match).values(**values)).rowcount)

    def take_job(self, job_id: int, old_owner: str | None, new_owner: str, lease: timedelta,
                 **values: Any) -> bool:
        """Compare-and-set: make ``new_owner`` the job's owner if it is still ``old_owner`` and that owner's
        lease has expired (no row, or no heartbeat within ``lease``) and the job is unfinished.

        One UPDATE, so that of two servers taking the same job at once exactly one wins (SQLite: the write
        lock; PostgreSQL: the second UPDATE waits for the first and then no longer matches ``old_owner``).
        ``values`` are written with it (a failed state, say). True if this call won.
        """
        j, s = job_table.c, server_table.c
        if values.get("state") in ("done", "failed"):
            values.setdefault("finished_at", datetime.now(UTC))
        cutoff = datetime.now(UTC) - lease
        owner_alive = sa.exists().where(s.id == j.owner, s.heartbeat_at >= cutoff)
        query = (job_table.update()
                 .where(j.id == job_id, j.owner.is_(None) if old_owner is None else j.owner == old_owner,
                        j.state.not_in(("done", "failed")), ~owner_alive)
                 .values(owner=new_owner, **values))
        with self._write() as conn:
            return conn.execute(query).rowcount == 1

    # ---- servers' leases

    def register_server(self, server_id: str, host: str, pid: int, lease: timedelta) -> None:
        """Start or renew this server's lease (made again if it was pruned); rows of expired leases go."""
        now = datetime.now(UTC)
        with self._write() as conn:
            conn.execute(server_table.delete().where(server_table.c.heartbeat_at < now - lease,
                                                     server_table.c.id != server_id))
            if conn.execute(server_table.update().where(server_table.c.id == server_id)
                            .values(heartbeat_at=now)).rowcount:
                return
            conn.execute(server_table.insert().values(id=server_id, host=host[:255], pid=pid, started_at=now,
                                                      heartbeat_at=now))

    def unregister_server(self, server_id: str) -> None:
        """A clean stop: the lease ends now, so the next server need not wait for it to expire."""
        with self._write() as conn:
            conn.execute(server_table.delete().where(server_table.c.id == server_id))

    def servers(self) -> list[Server]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(server_table).order_by(server_table.c.started_at))
            return [Server(r.id, r.host, r.pid, r.started_at, r.heartbeat_at) for r in rows]

    def live_servers(self, lease: timedelta) -> dict[str, Server]:
        """The servers whose lease has not expired, by id."""
        cutoff = datetime.now(UTC) - lease
        return {s.id: s for s in self.servers() if s.heartbeat_at >= cutoff}

    def job(self, job_id: int) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(job_table).where(job_table.c.id == job_id)).first()
        return _job(row) if row is not None else None

    def jobs(self, limit: int = 50) -> list[Job]:
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(sa.select(job_table).order_by(job_table.c.id.desc()).limit(limit))]

    # ---- alerts

    def add_alert(self, kind: str, message: str, detail: dict[str, Any] | None = None,
                  snapshot_id: int | None = None) -> Alert:
        now = datetime.now(UTC)
        with self._write() as conn:
            result = conn.execute(alert_table.insert().values(at=now, kind=kind, message=message, detail=detail or {},
                                                              snapshot_id=snapshot_id))
            key = result.inserted_primary_key
            assert key is not None
        return Alert(int(key[0]), now, kind, message, detail or {}, snapshot_id)

    def alerts(self, limit: int = 20) -> list[Alert]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(alert_table).order_by(alert_table.c.id.desc()).limit(limit))
            return [Alert(r.id, r.at, r.kind, r.message, dict(r.detail or {}), r.snapshot_id) for r in rows]


def _job(r: Any) -> Job:
    return Job(r.id, r.kind, r.name, r.state, int(r.done), int(r.total), r.message, r.error, r.snapshot_id,
               r.created_by, r.created_at, r.finished_at, dict(r.config) if r.config is not None else None, r.owner)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not a password", salt=b"\0" * 16)
