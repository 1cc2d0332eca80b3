"""``flask --app wsgi db upgrade``: bring the database schema up to date.

Also ``require_migrated``, the check every other command group runs first, so
a command on a fresh or outdated database says what to do instead of failing
with a traceback on a missing table."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import create_engine, pool
from sqlalchemy.exc import OperationalError

group = AppGroup("db", help="Database schema (Alembic migrations).")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
UPGRADE_COMMAND = "flask --app wsgi db upgrade"


def _scripts_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def alembic_config(url: str | None = None) -> Config:
    cfg = _scripts_config()
    cfg.attributes["sqlalchemy_url"] = url or current_app.config["SQLALCHEMY_DATABASE_URI"]
    return cfg


def upgrade(url: str | None = None) -> None:
    # "heads": every branch, so independently added migrations all apply.
    command.upgrade(alembic_config(url), "heads")


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_scripts_config())


def code_heads() -> tuple[str, ...]:
    """The newest revision(s) of the migrations shipped with this code."""
    return tuple(sorted(_scripts().get_heads()))


def database_heads(url: str | None = None) -> tuple[str, ...]:
    """The revision(s) the database is at; () before the first migration."""
    engine = create_engine(url or current_app.config["SQLALCHEMY_DATABASE_URI"],
                           poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    finally:
        engine.dispose()


def migrations_between(before: tuple[str, ...], after: tuple[str, ...]) -> int:
    """How many migrations lead from revision(s) ``before`` to ``after``."""
    script = _scripts()

    def with_ancestors(heads):
        return {rev.revision for rev in script.iterate_revisions(heads, "base")} if heads else set()

    return len(with_ancestors(after) - with_ancestors(before))


def _names(heads: tuple[str, ...]) -> str:
    return ", ".join(heads) or "empty"


def _unreachable(error: OperationalError) -> click.ClickException:
    # The driver's first line says why (no such database, refused, bad password);
    # the URL itself may hold a password, so it is not repeated.
    reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
    return click.ClickException(f"cannot open the database (DATABASE_URL): {reason}")


def upgrade_report(before: tuple[str, ...], after: tuple[str, ...]) -> str:
    """One line saying what ``db upgrade`` did."""
    applied = migrations_between(before, after)
    if not applied:
        return f"Database is up to date ({_names(after)})"
    plural = "migration" if applied == 1 else "migrations"
    return f"Database migrated: {_names(before)} → {_names(after)} ({applied} {plural} applied)"


def pending_migrations_message() -> str | None:
    """Why commands cannot run on this database yet, or None when its schema
    is the one this code expects."""
    try:
        have = database_heads()
    except OperationalError as error:
        raise _unreachable(error) from None
    need = code_heads()
    if have == need:
        return None
    if not have:
        return f"the database has no tables yet: run `{UPGRADE_COMMAND}` first"
    return (f"the database schema is at {_names(have)}, this code needs {_names(need)}: "
            f"run `{UPGRADE_COMMAND}` first")


@with_appcontext
def require_migrated() -> None:
    """A command group's callback (it runs before any of its commands)."""
    message = pending_migrations_message()
    if message:
        raise click.ClickException(message)


@group.command("upgrade")
def upgrade_command():
    """Apply every migration not yet applied."""
    try:
        before = database_heads()
    except OperationalError as error:
        raise _unreachable(error) from None
    upgrade()
    click.echo(upgrade_report(before, database_heads()))


@group.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate", is_flag=True)
def revision_command(message, autogenerate):
    """Create a new migration file (developers)."""
    command.revision(alembic_config(), message=message, autogenerate=autogenerate)
