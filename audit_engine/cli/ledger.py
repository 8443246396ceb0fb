"""``census-audit ledger verify|head|history``."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, UserError, emit, examples
from audit_engine.ledger import head as ledger_head
from audit_engine.ledger import history as ledger_history
from audit_engine.ledger import verify as ledger_verify


@click.group(epilog="\b\nExamples:\n  census-audit ledger verify\n  census-audit ledger verify --expect-head 3f9a…\n"
                    "  census-audit ledger history --limit 20 --json")
def ledger() -> None:
    """The accountability ledger: every action, hash-chained."""


@ledger.command(epilog=examples("census-audit ledger verify", "census-audit ledger verify --expect-head HASH --json"))
@click.option("--expect-head", metavar="HASH", help="An anchored head hash (e.g. from a report) the ledger must end at.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def verify(app: AppContext, expect_head: str | None, as_json: bool) -> None:
    """Recompute the chain; name the first entry modified, deleted or reordered. Exit 1 if broken."""
    r = ledger_verify(app.ready_engine(), expected_head=expect_head)
    data = {"ok": r.ok, "entries": r.entries, "head_hash": r.head_hash, "first_bad_seq": r.first_bad_seq,
            "problem": r.problem, **r.details}
    text = (f"ledger intact: {r.entries} entries, head {r.head_hash}" if r.ok
            else f"LEDGER BROKEN at entry {r.first_bad_seq}: {r.details.get('message', r.problem)}")
    emit(data, as_json, text)
    if not r.ok:
        raise SystemExit(1)


@ledger.command(epilog=examples("census-audit ledger head", "census-audit ledger head --json"))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def head(app: AppContext, as_json: bool) -> None:
    """Print the newest entry's number and hash, to anchor the chain elsewhere."""
    seq, h = ledger_head(app.ready_engine())
    emit({"seq": seq, "hash": h}, as_json, f"{seq} {h}")


@ledger.command(epilog=examples("census-audit ledger history --limit 50",
                                "census-audit ledger history --command 'load census' --json",
                                "census-audit --operator li.qc ledger history 320831001001001001001   # one record's story"))
@click.argument("record", required=False)
@click.option("--source", type=click.Choice(["census", "pes"]), default="census", show_default=True,
              help="With RECORD: the record's source.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1))
@click.option("--command", "command_name", help="Only entries of this command (e.g. 'load census').")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def history(app: AppContext, record: str | None, source: str, limit: int, command_name: str | None,
            as_json: bool) -> None:
    """The newest entries: who did what, when, on which inputs; with RECORD, that record's story
    (flags, decisions, corrections, who and when)."""
    if record:
        from audit_engine.access.operators import Refused
        from audit_engine.review.history import record_history

        try:
            h = record_history(app.ready_engine(), app.operator, record, source)
        except (Refused, ValueError) as exc:
            raise UserError(str(exc)) from exc
        emit(h, as_json, f"{h['source']} record {h['record']} (EA {h['ea_code']}):\n" + "\n".join(
            "  " + " ".join(f"{k}={v}" for k, v in e.items()) for e in h["events"]) if h["events"] else
            f"{h['source']} record {h['record']}: no flags, decisions or corrections")
        return
    rows = ledger_history(app.ready_engine(), limit=limit, command=command_name)
    text = "\n".join(f"{r['seq']:>6}  {r['ts'][:19]}  {r['operator']:<14} {r['command']:<16} "
                     f"{' '.join(f'{k}={v}' for k, v in sorted(r['result'].items()) if not isinstance(v, dict))}"
                     for r in rows) or "(empty ledger)"
    emit({"entries": rows}, as_json, text)
