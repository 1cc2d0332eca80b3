"""The Alembic history: one head, and the migrated schema is the models' schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from checkout.db import db
from checkout.cli.db import alembic_config


def test_the_migration_history_has_one_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_a_migrated_database_matches_the_models(database_url):
    """SQLite always; PostgreSQL too when the suite runs on it."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    engine.dispose()
    assert differences == []
