"""`hospital db backup` and `hospital db restore`: pg_dump/pg_restore, or SQLite's backup API.

A PostgreSQL backup is pg_dump's custom format (compressed, restorable table by table); a SQLite
backup is a consistent copy of the database file taken with SQLite's online backup API, safe
while the application runs. Restore writes into the database the settings name, which must be
empty (a new database) unless --replace is given: a restore never merges into live data.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate.cli import db as db_group
from sqlalchemy.engine import URL, make_url

from hospital.db import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(click.ClickException):
    pass


def _url() -> URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _pg_tool(name: str) -> str:
    """pg_dump/pg_restore: on PATH, else the newest under /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if not candidates:
        raise BackupError(f"{name} not found: install Debian's postgresql-client package")
    return candidates[-1]


def _pg_environment(url: URL) -> dict[str, str]:
    """libpq settings for the tools, so the password never appears on a command line."""
    env = dict(os.environ)
    for key, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[key] = str(value)
    return env


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return url.database


def backup(target: Path) -> None:
    """Write a backup of the configured database to target."""
    url = _url()
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "postgresql":
        done = subprocess.run(
            [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target)],
            env=_pg_environment(url),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    elif url.get_backend_name() == "sqlite":
        partial = target.with_name(target.name + ".partial")
        source = sqlite3.connect(_sqlite_path(url))
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        os.replace(partial, target)  # a backup file is whole or absent
    else:
        raise BackupError(f"cannot back up a {url.get_backend_name()} database")


def _has_tables() -> bool:
    return bool(sa.inspect(db.engine).get_table_names())


def restore(source: Path, *, replace: bool) -> None:
    """Restore the backup at source into the configured database."""
    url = _url()
    with source.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    backend = url.get_backend_name()
    if backend == "postgresql" and not head.startswith(PG_DUMP_MAGIC):
        raise BackupError(f"{source} is not a PostgreSQL backup (pg_dump's custom format)")
    if backend == "sqlite" and head != SQLITE_MAGIC:
        raise BackupError(f"{source} is not a SQLite backup")
    if not replace and _has_tables():
        raise BackupError(
            "the target database already holds tables: restore into a new, empty database "
            "(set HOSPITAL_DATABASE_URL), or pass --replace to overwrite it"
        )
    db.engine.dispose()  # no pooled connection may keep the old contents open
    if backend == "postgresql":
        command = [_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction"]
        if replace:
            command += ["--clean", "--if-exists"]
        env = _pg_environment(url)
        command += ["--dbname", env.get("PGDATABASE", ""), str(source)]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()}")
    elif backend == "sqlite":
        saved = sqlite3.connect(source)
        live = sqlite3.connect(_sqlite_path(url))
        try:
            saved.backup(live)
        finally:
            live.close()
            saved.close()
    else:
        raise BackupError(f"cannot restore into a {backend} database")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Back up the database to PATH (pg_dump custom format, or a SQLite copy)."""
    backup(path)
    click.echo(f"Backed up to {path} ({path.stat().st_size} bytes)")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite a database that already holds data.")
@with_appcontext
def restore_command(path: Path, replace: bool) -> None:
    """Restore the backup at PATH into the configured (new, empty) database."""
    restore(path, replace=replace)
    click.echo(f"Restored {path}")


def register() -> None:
    """Add backup and restore to Flask-Migrate's `db` group (once)."""
    if "backup" not in db_group.commands:
        db_group.add_command(backup_command)
        db_group.add_command(restore_command)
