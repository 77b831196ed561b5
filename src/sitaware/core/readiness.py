"""Whether the database is ready for the commands that use it: every migration applied."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


def database_label() -> str:
    """The database as a user recognises it: the SQLite file, or the server and database name."""
    connection = connections[DEFAULT_DB_ALIAS]
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite {settings['NAME']}"
    return f"{connection.vendor} {settings.get('HOST') or 'local'}:{settings.get('PORT') or ''}/{settings['NAME']}"


def unapplied_migrations() -> list[str]:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def require_migrated() -> None:
    """Refuse with what to do, instead of failing later on a missing table."""
    pending = unapplied_migrations()
    if pending:
        raise CommandError(
            f"the database ({database_label()}) has {len(pending)} unapplied migration(s), e.g. {pending[0]}; "
            "run `sitaware migrate` first"
        )
