"""The migrations build exactly the schema the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from audit_engine.store.migrate import current_revision, head_revision, require_current, upgrade
from audit_engine.store.models import Base


def test_migrated_schema_matches_models(engine):
    assert current_revision(engine) == head_revision()
    require_current(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine):
    assert upgrade(engine) == (head_revision(), head_revision())
