"""What every command shares: the store URL, the operator, output mode, error handling."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from audit_engine.store import make_engine, resolve_url
from audit_engine.store.migrate import require_current

OPERATOR_ENV = "CENSUS_AUDIT_OPERATOR"


class UserError(click.ClickException):
    """A problem the user can fix (bad input, missing operator, store not initialised): exit 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # one line, no traceback
        click.echo(f"error: {self.format_message()}", err=True)


@dataclass
class AppContext:
    db: str | None
    operator_opt: str | None
    debug: bool

    @property
    def url(self) -> str:
        return resolve_url(self.db)

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.url)

    def ready_engine(self) -> Engine:
        """The engine of an initialised store at the current schema."""
        from audit_engine.store.migrate import SchemaError

        try:
            require_current(self.engine)
        except SchemaError as exc:
            raise UserError(f"{self.safe_url}: {exc}") from exc
        return self.engine

    def engine_for(self, action: str) -> Engine:
        """The ready engine, once the operator may take ``action`` (see
        :mod:`audit_engine.access.operators`; open mode while no operator is registered)."""
        from audit_engine.access.operators import Refused, authorize

        engine = self.ready_engine()
        try:
            authorize(engine, self.operator, action)
        except Refused as exc:
            raise UserError(str(exc)) from exc
        return engine

    @property
    def operator(self) -> str:
        """Who is acting: required for every command that changes or reports anything."""
        op = self.operator_opt or os.environ.get(OPERATOR_ENV)
        if not op:
            raise UserError(f"no operator: pass --operator NAME or set {OPERATOR_ENV} (every action is attributed)")
        return op


def examples(*lines: str) -> str:
    """An epilog of examples for ``--help`` (click keeps the \\b block's line breaks)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    """Print figures as JSON (machine) or text (person). Never pass personal data here."""
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str))
    else:
        click.echo(text)


def progress_enabled(as_json: bool) -> bool:
    """Progress bars go to stderr on a terminal, and stay out of JSON pipelines."""
    return not as_json and sys.stderr.isatty()
