"""``flask --app wsgi db upgrade``: bring the database schema up to date."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import current_app
from flask.cli import AppGroup

group = AppGroup("db", help="Database schema (Alembic migrations).")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["sqlalchemy_url"] = url or current_app.config["SQLALCHEMY_DATABASE_URI"]
    return cfg


def upgrade(url: str | None = None) -> None:
    # "heads": every branch, so independently added migrations all apply.
    command.upgrade(alembic_config(url), "heads")


@group.command("upgrade")
def upgrade_command():
    """Apply every migration not yet applied."""
    upgrade()
    click.echo("database is up to date")


@group.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate", is_flag=True)
def revision_command(message, autogenerate):
    """Create a new migration file (developers)."""
    command.revision(alembic_config(), message=message, autogenerate=autogenerate)
