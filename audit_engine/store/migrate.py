"""Versioned schema migrations (Alembic), run in-process by ``census-audit init``."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("audit_engine.store").joinpath("migrations")))
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this code."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Create or migrate the schema; returns (revision before, revision after)."""
    before = current_revision(engine)
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return before, current_revision(engine) or ""


class SchemaError(RuntimeError):
    """The database is not at the schema this code expects."""


def require_current(engine: Engine) -> None:
    """Refuse to work on a store that was never initialised or needs migrating."""
    cur = current_revision(engine)
    head = head_revision()
    if cur != head:
        if cur is None:
            raise SchemaError("the store has no schema: run `census-audit init` first")
        raise SchemaError(f"the store is at schema {cur}, this code needs {head}: run `census-audit init`")
