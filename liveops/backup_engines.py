"""Database-specific mechanics behind liveops/backups.py: dump, restore, fingerprint, scratch DBs.

- **PostgreSQL**: django-dbbackup's ``PgDumpBinaryConnector`` runs ``pg_dump --format=custom``
  and ``pg_restore`` (it builds the command line, libpq environment and TLS options). We add a
  snapshot: a REPEATABLE READ transaction exports its snapshot, the table fingerprints are read in
  it and ``pg_dump --snapshot`` dumps exactly the same data.
- **SQLite**: the stdlib online backup API (what dbbackup's ``SqliteBackupConnector`` calls), on
  our own connection so the fingerprints and the copy share one read snapshot; restores use the
  same API in the other direction instead of overwriting the file, which would corrupt a database
  in WAL mode (docs/decisions/0041-backups.md).

A *fingerprint* of a table is its row count plus the SHA-256 of its rows in primary-key order,
each row rendered as text by the database itself (``row::text`` / ``quote()``), so it does not
depend on Python-side type conversion.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import environ
import psycopg
from django.db import connections
from psycopg import sql
from psycopg.conninfo import make_conninfo

Progress = Callable[[str], None]
FETCH_ROWS = 2000
COPY_CHUNK = 1024 * 1024
# libpq connection parameters Django may carry in OPTIONS; other OPTIONS are Django-only.
LIBPQ_OPTIONS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "passfile",
    "service",
    "connect_timeout",
)


def _quiet(_message: str) -> None:
    return None


@dataclass(frozen=True)
class TableFingerprint:
    rows: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "sha256": self.sha256}


@dataclass(frozen=True)
class DatabaseTarget:
    """A database described like a Django ``DATABASES`` entry (ENGINE, NAME, HOST, ...)."""

    vendor: str  # "postgresql" or "sqlite"
    settings: dict[str, Any] = field(hash=False)

    @classmethod
    def from_settings(cls, settings_dict: dict[str, Any]) -> DatabaseTarget:
        engine = settings_dict["ENGINE"]
        if "postgresql" in engine or "postgis" in engine:
            vendor = "postgresql"
        elif "sqlite" in engine:
            vendor = "sqlite"
        else:
            raise ValueError(f"Backups support PostgreSQL and SQLite, not {engine}.")
        return cls(vendor=vendor, settings=dict(settings_dict))

    @classmethod
    def from_url(cls, url: str) -> DatabaseTarget:
        return cls.from_settings(environ.Env.db_url_config(url))

    @classmethod
    def from_alias(cls, alias: str = "default") -> DatabaseTarget:
        return cls.from_settings(connections[alias].settings_dict)

    @property
    def name(self) -> str:
        return str(self.settings["NAME"])

    @property
    def label(self) -> str:
        """Where the database is, for messages: never includes the password."""
        if self.vendor == "sqlite":
            return f"sqlite:{self.name}"
        host = self.settings.get("HOST") or "localhost"
        port = self.settings.get("PORT") or 5432
        return f"postgresql://{host}:{port}/{self.name}"

    def same_database_as(self, other: DatabaseTarget) -> bool:
        keys = ("NAME", "HOST", "PORT")
        return self.vendor == other.vendor and all(
            str(self.settings.get(k) or "") == str(other.settings.get(k) or "") for k in keys
        )

    def with_name(self, name: str) -> DatabaseTarget:
        return DatabaseTarget(vendor=self.vendor, settings={**self.settings, "NAME": name})


class BackupEngine(Protocol):
    extension: str

    def dump(
        self, source: DatabaseTarget, dest: Path, tables: list[str], progress: Progress
    ) -> dict[str, TableFingerprint]: ...

    def restore(self, dump: Path, target: DatabaseTarget, progress: Progress) -> None: ...

    def fingerprint(
        self, target: DatabaseTarget, tables: Iterable[str]
    ) -> dict[str, TableFingerprint]: ...

    def table_count(self, target: DatabaseTarget) -> int | None:
        """Tables in the target, or None when the database does not exist."""
        ...

    def create_database(self, target: DatabaseTarget) -> None: ...

    def drop_database(self, target: DatabaseTarget) -> None: ...

    def clear(self, target: DatabaseTarget) -> None:
        """Remove every table of an existing database (restore --force)."""
        ...


def engine_for(vendor: str) -> BackupEngine:
    if vendor == "postgresql":
        return PostgresEngine()
    if vendor == "sqlite":
        return SqliteEngine()
    raise ValueError(f"No backup engine for {vendor}.")


def _hash_rows(rows: Iterator[str]) -> TableFingerprint:
    digest = hashlib.sha256()
    count = 0
    for text in rows:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
        count += 1
    return TableFingerprint(rows=count, sha256=digest.hexdigest())


def copy_with_progress(src: Any, dest: Path, total: int | None, progress: Progress) -> int:
    """Copy a binary stream to ``dest``, reporting every 10 % (or every 64 MiB if size unknown)."""
    written = 0
    next_report = 0.1
    with dest.open("wb") as out:
        while chunk := src.read(COPY_CHUNK):
            out.write(chunk)
            written += len(chunk)
            if total and written / total >= next_report:
                progress(f"  {written * 100 // total:3d}%  {written / 1e6:.1f} MB")
                next_report += 0.1
            elif not total and written % (64 * COPY_CHUNK) < len(chunk):
                progress(f"  {written / 1e6:.1f} MB")
    return written


# --- SQLite -------------------------------------------------------------------------------------
class SqliteEngine:
    extension = "sqlite3"

    @staticmethod
    def _connect(target: DatabaseTarget, *, read_only: bool = False) -> sqlite3.Connection:
        name = target.name
        if read_only and not name.startswith("file:"):
            name = f"file:{name}?mode=ro"
        # Autocommit (isolation_level=None): transactions are explicit below.
        return sqlite3.connect(name, uri=True, timeout=20, isolation_level=None)

    def dump(
        self, source: DatabaseTarget, dest: Path, tables: list[str], progress: Progress
    ) -> dict[str, TableFingerprint]:
        with closing(self._connect(source)) as src:
            # One read transaction: in WAL mode writers carry on, and both the fingerprints and
            # the page copy see the same snapshot.
            src.execute("BEGIN DEFERRED")
            try:
                fingerprints = self._fingerprint_conn(src, tables, progress)
                progress("  copying pages (online backup API)")
                with closing(sqlite3.connect(dest)) as out:
                    src.backup(out, pages=256, progress=self._page_progress(progress))
                    # Self-contained file: no -wal/-shm companions needed to open it later.
                    out.execute("PRAGMA journal_mode=DELETE")
            finally:
                src.execute("ROLLBACK")
        return fingerprints

    @staticmethod
    def _page_progress(progress: Progress) -> Callable[[int, int, int], None]:
        reported = {"step": -1}

        def report(_status: int, remaining: int, total: int) -> None:
            if total <= 0:
                return
            step = (total - remaining) * 10 // total
            if step != reported["step"]:
                reported["step"] = step
                progress(f"  {step * 10:3d}%  {total - remaining}/{total} pages")

        return report

    def restore(self, dump: Path, target: DatabaseTarget, progress: Progress) -> None:
        source = DatabaseTarget(vendor="sqlite", settings={"NAME": str(dump)})
        with (
            closing(self._connect(source, read_only=True)) as src,
            closing(self._connect(target)) as dst,
        ):
            src.backup(dst, pages=256, progress=self._page_progress(progress))

    def fingerprint(
        self, target: DatabaseTarget, tables: Iterable[str]
    ) -> dict[str, TableFingerprint]:
        with closing(self._connect(target)) as conn:
            conn.execute("BEGIN DEFERRED")
            try:
                return self._fingerprint_conn(conn, list(tables), _quiet)
            finally:
                conn.execute("ROLLBACK")

    def _fingerprint_conn(
        self, conn: sqlite3.Connection, tables: list[str], progress: Progress
    ) -> dict[str, TableFingerprint]:
        present = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        result: dict[str, TableFingerprint] = {}
        for table in tables:
            if table not in present:
                continue
            result[table] = _hash_rows(self._row_texts(conn, table))
            progress(f"  fingerprint {table}: {result[table].rows} rows")
        return result

    @staticmethod
    def _row_texts(conn: sqlite3.Connection, table: str) -> Iterator[str]:
        ident = table.replace('"', '""')
        info = conn.execute(f'PRAGMA table_info("{ident}")').fetchall()
        columns = [row[1] for row in info]
        pk = [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5]]
        order = ", ".join(f'"{c}"' for c in (pk or ["rowid"]))
        rendered = " || ',' || ".join(
            f'quote("{c.replace(chr(34), chr(34) * 2)}")' for c in columns
        )
        cursor = conn.execute(f'SELECT {rendered} FROM "{ident}" ORDER BY {order}')  # noqa: S608
        while batch := cursor.fetchmany(FETCH_ROWS):
            for (text,) in batch:
                yield str(text)

    def table_count(self, target: DatabaseTarget) -> int | None:
        if target.name == ":memory:":
            return 0
        if not target.name.startswith("file:") and not Path(target.name).exists():
            return None
        with closing(self._connect(target, read_only=True)) as conn:
            row = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%'"
            ).fetchone()
        return int(row[0])

    def create_database(self, target: DatabaseTarget) -> None:
        Path(target.name).parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(target.name).close()

    def drop_database(self, target: DatabaseTarget) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(target.name + suffix).unlink(missing_ok=True)

    def clear(self, target: DatabaseTarget) -> None:
        # The backup API replaces every page of the destination: nothing to clear first.
        return None


# --- PostgreSQL ---------------------------------------------------------------------------------
def pg_conninfo(target: DatabaseTarget, *, dbname: str | None = None) -> str:
    s = target.settings
    params: dict[str, Any] = {
        "dbname": dbname or s.get("NAME") or "postgres",
        "host": s.get("HOST") or None,
        "port": s.get("PORT") or None,
        "user": s.get("USER") or None,
        "password": s.get("PASSWORD") or None,
    }
    options = s.get("OPTIONS") or {}
    params.update({k: options[k] for k in LIBPQ_OPTIONS if options.get(k)})
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


class PostgresEngine:
    extension = "psql.bin"

    @staticmethod
    def _connector(target: DatabaseTarget, **options: Any) -> Any:
        from dbbackup.db.postgresql import PgDumpBinaryConnector

        # dbbackup pins its command logger to DEBUG at import; its lines are noise for us.
        logging.getLogger("dbbackup.command").setLevel(logging.WARNING)
        connector = PgDumpBinaryConnector(**options)
        # The connector reads credentials from ``settings``; point it at the target database.
        connector._settings = dict(target.settings)
        return connector

    def dump(
        self, source: DatabaseTarget, dest: Path, tables: list[str], progress: Progress
    ) -> dict[str, TableFingerprint]:
        with psycopg.connect(pg_conninfo(source)) as snap:
            snap.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            snap.read_only = True
            snap.execute("SET TIME ZONE 'UTC'")
            snapshot_row = snap.execute("SELECT pg_export_snapshot()").fetchone()
            assert snapshot_row is not None
            fingerprints = self._fingerprint_conn(snap, tables, progress)
            progress("  pg_dump --format=custom (same snapshot)")
            connector = self._connector(source, dump_suffix=f"--snapshot={snapshot_row[0]}")
            stream = connector.create_dump()
            stream.seek(0)
            copy_with_progress(stream, dest, None, progress)
            stream.close()
            snap.rollback()
        return fingerprints

    def restore(self, dump: Path, target: DatabaseTarget, progress: Progress) -> None:
        progress("  pg_restore (single transaction)")
        connector = self._connector(target, pg_options="--no-owner")
        with dump.open("rb") as stream:
            connector.restore_dump(stream)

    def fingerprint(
        self, target: DatabaseTarget, tables: Iterable[str]
    ) -> dict[str, TableFingerprint]:
        with psycopg.connect(pg_conninfo(target)) as conn:
            conn.read_only = True
            conn.execute("SET TIME ZONE 'UTC'")
            result = self._fingerprint_conn(conn, list(tables), _quiet)
            conn.rollback()
        return result

    def _fingerprint_conn(
        self, conn: psycopg.Connection[Any], tables: list[str], progress: Progress
    ) -> dict[str, TableFingerprint]:
        present = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        }
        result: dict[str, TableFingerprint] = {}
        for table in tables:
            if table not in present:
                continue
            result[table] = _hash_rows(self._row_texts(conn, table))
            progress(f"  fingerprint {table}: {result[table].rows} rows")
        return result

    @staticmethod
    def _primary_key_columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
        rows = conn.execute(
            "SELECT a.attname FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum",
            [sql.Identifier(table).as_string(conn)],
        ).fetchall()
        return [r[0] for r in rows]

    def _row_texts(self, conn: psycopg.Connection[Any], table: str) -> Iterator[str]:
        pk = self._primary_key_columns(conn, table)
        order = sql.SQL(", ").join(sql.Identifier(c) for c in pk) if pk else sql.SQL("t::text")
        query = sql.SQL("SELECT t::text FROM {} AS t ORDER BY {}").format(
            sql.Identifier(table), order
        )
        # A named (server-side) cursor streams big tables instead of loading them whole.
        with conn.cursor(name=f"fp_{abs(hash(table))}") as cursor:
            cursor.itersize = FETCH_ROWS
            cursor.execute(query)
            for (text,) in cursor:
                yield str(text)

    def table_count(self, target: DatabaseTarget) -> int | None:
        try:
            with psycopg.connect(pg_conninfo(target), connect_timeout=10) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                ).fetchone()
        except psycopg.OperationalError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        assert row is not None
        return int(row[0])

    def _admin(self, target: DatabaseTarget) -> psycopg.Connection[Any]:
        return psycopg.connect(pg_conninfo(target, dbname="postgres"), autocommit=True)

    def create_database(self, target: DatabaseTarget) -> None:
        with self._admin(target) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.name)))

    def drop_database(self, target: DatabaseTarget) -> None:
        with self._admin(target) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(target.name)
                )
            )

    def clear(self, target: DatabaseTarget) -> None:
        with psycopg.connect(pg_conninfo(target), autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.execute("CREATE SCHEMA public")


@contextmanager
def scratch_database(
    engine: BackupEngine, like: DatabaseTarget, name: str, work_dir: Path
) -> Iterator[DatabaseTarget]:
    """A fresh empty database next to ``like`` that is dropped afterwards, even on failure."""
    if like.vendor == "sqlite":
        work_dir.mkdir(parents=True, exist_ok=True)
        target = like.with_name(str(work_dir / f"{name}.sqlite3"))
    else:
        target = like.with_name(name)
    engine.drop_database(target)
    engine.create_database(target)
    try:
        yield target
    finally:
        engine.drop_database(target)
        if like.vendor == "sqlite":
            shutil.rmtree(work_dir, ignore_errors=True)
