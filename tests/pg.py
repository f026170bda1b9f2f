"""A throwaway PostgreSQL server for tests, from Debian's postgresql package.

Installs nothing (``.ci/install-postgres.sh`` does): it finds ``initdb`` under
/usr/lib/postgresql/<version>/bin, makes a cluster in a temporary directory
owned by a non-root user (PostgreSQL refuses to run as root), and starts it
listening on a Unix socket in that directory only: no TCP port at all.

Use ``postgres_server()`` as a context manager (one per pytest-xdist worker
via a session fixture) and ``server.create_database()`` for one fresh
database per test. If the binaries are missing the tests are skipped, unless
``CI`` is set: then they fail, so CI can never pass without PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "vendorscope"
PORT = 5432  # only names the socket file: the server listens on no TCP port


def find_pg_bin() -> Path | None:
    """The bin directory of the newest PostgreSQL Debian's package installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    return Path(found[-1]).parent if found else None


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.parent.name
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def require_pg_bin() -> Path:
    """The binaries, or a skip (a failure under CI) saying how to get them."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        reason = "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin); run .ci/install-postgres.sh"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)
    return pg_bin


@dataclass
class PostgresServer:
    pg_bin: Path
    socket_dir: Path
    _run_as: dict[str, int]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}&port={PORT}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host=str(self.socket_dir), port=PORT, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _non_root_user() -> dict[str, int]:
    """subprocess arguments to run the server as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid}
    raise RuntimeError("running as root and found no 'postgres' or 'nobody' user to run PostgreSQL as")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a temporary cluster; stop it and delete it on exit."""
    pg_bin = require_pg_bin()
    run_as = _non_root_user()
    # Short path: Unix socket paths are limited to about 100 bytes.
    base = Path(tempfile.mkdtemp(prefix="vs-pg-", dir="/tmp"))
    data = base / "data"
    log = base / "server.log"
    if run_as:
        os.chown(base, run_as["user"], run_as["group"])
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    started = False
    try:
        subprocess.run(
            [str(pg_bin / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
             "--locale=C", "--no-sync"],
            check=True, capture_output=True, env=env, cwd=base, **run_as,  # type: ignore[call-overload]
        )
        options = (
            f"-k {base} -p {PORT} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=50"
        )
        result = subprocess.run(
            [str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
            capture_output=True, env=env, cwd=base, **run_as,  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            server_log = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stderr.decode(errors='replace')}\n{server_log}")
        started = True
        yield PostgresServer(pg_bin, base, run_as)
    finally:
        if started:
            subprocess.run(
                [str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True, env=env, cwd=base, **run_as,  # type: ignore[call-overload]
            )
        shutil.rmtree(base, ignore_errors=True)
