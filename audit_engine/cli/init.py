"""``census-audit init``: create or migrate the store's schema."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, emit
from audit_engine.ledger import append
from audit_engine.store.migrate import upgrade


@click.command(epilog="\b\nExamples:\n  census-audit --operator admin init\n"
                      "  census-audit --db postgresql://census@db/census2020 --operator admin init --json")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def init(app: AppContext, as_json: bool) -> None:
    """Create the store, or migrate it to this version's schema (versioned migrations)."""
    operator = app.operator
    before, after = upgrade(app.engine)
    if before != after:
        append(app.engine, operator=operator, command="init", params={"from": before, "to": after},
               result={"schema": after})
    data = {"store": app.safe_url, "schema_before": before, "schema": after, "changed": before != after}
    text = (f"store {app.safe_url}: schema {after}" + (f" (migrated from {before})" if before else " (created)")
            if before != after else f"store {app.safe_url}: schema {after}, already current")
    emit(data, as_json, text)
