"""The data store: SQLAlchemy models, engine from URL, versioned migrations."""

from audit_engine.store.engine import DEFAULT_URL, make_engine, resolve_url

__all__ = ["DEFAULT_URL", "make_engine", "resolve_url"]
