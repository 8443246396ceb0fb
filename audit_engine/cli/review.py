"""``census-audit review``: the QC officer's queue of flags and linkage items."""

from __future__ import annotations

import json

import click

from audit_engine.cli.context import AppContext, UserError, emit, examples


def _run(fn):
    from audit_engine.access.operators import Refused
    from audit_engine.review.items import ReviewError

    try:
        return fn()
    except (Refused, ReviewError, ValueError) as exc:
        raise UserError(str(exc)) from exc


@click.group(epilog=examples("census-audit --operator li.qc review next",
                             "census-audit --operator li.qc review show F1024",
                             "census-audit --operator li.qc review decide F1024 confirmed --reason '户口簿核实' --set age=34"))
def review() -> None:
    """Review flags and linkage items in your scope, one decision at a time (QC officers)."""


@review.command(name="list", epilog=examples("census-audit --operator li.qc review list",
                                             "census-audit --operator li.qc review list --status revisit --json"))
@click.option("--status", type=click.Choice(["open", "decided", "revisit"]), default="open", show_default=True)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_(app: AppContext, status: str, limit: int, as_json: bool) -> None:
    """Items in your scope."""
    from audit_engine.review.queue import list_items

    df = _run(lambda: list_items(app.ready_engine(), app.operator, status=status, limit=limit))
    emit({"items": df.to_dict("records")}, as_json,
         "\n".join(f"{r.ref:<9} {r.detail:<10} {r.severity:<8} {r.ea_code}" for r in df.itertuples()) or "nothing here")


@review.command(name="next", epilog=examples("census-audit --operator li.qc review next"))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def next_(app: AppContext, as_json: bool) -> None:
    """The next item to decide (four-eyes checks waiting for you first)."""
    from audit_engine.review.queue import next_item

    ref = _run(lambda: next_item(app.ready_engine(), app.operator))
    emit({"item": ref}, as_json, ref or "queue empty")


@review.command(epilog=examples("census-audit --operator li.qc review show F1024",
                                "census-audit --operator li.qc review show R17 --json"))
@click.argument("item")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(app: AppContext, item: str, as_json: bool) -> None:
    """The item and its record(s), unmasked for an officer whose scope holds them."""
    from audit_engine.review.queue import show_item

    d = _run(lambda: show_item(app.ready_engine(), app.operator, item))
    lines = [f"{d['ref']} ({d['status']}) EA {d['ea_code']}: " + json.dumps(d["detail"], ensure_ascii=False, default=str)]
    for r in d["records"]:
        lines.append("  " + ", ".join(f"{k}={v}" for k, v in r.items() if v is not None))
    for x in d["decisions"]:
        lines.append(f"  decided ({x['stage']}): {x['decision']} by {x['operator']} at {x['decided_at']}")
    emit(d, as_json, "\n".join(lines))


@review.command(epilog=examples("census-audit --operator li.qc review decide F1024 confirmed --reason '户口簿核实' --set age=34",
                                "census-audit --operator li.qc review decide F1025 false_alarm --reason '一户多人同名，核实无误'",
                                "census-audit --operator li.qc review decide R17 match --reason 'same household on revisit'"))
@click.argument("item")
@click.argument("decision")
@click.option("--reason", required=True, help="Why (required; kept in the store, hashed in the ledger).")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Corrected value (confirmed flags).")
@click.option("--four-eyes", type=float, default=0.1, show_default=True, help="Share of decisions sent to a second officer.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def decide(app: AppContext, item: str, decision: str, reason: str, sets: tuple[str, ...], four_eyes: float,
           as_json: bool) -> None:
    """Decide an item: flag confirmed / false_alarm / revisit; pair match / non_match; …"""
    from audit_engine.review.queue import decide_item

    corrections = {}
    for s in sets:
        if "=" not in s:
            raise UserError(f"--set {s!r}: write FIELD=VALUE")
        k, v = s.split("=", 1)
        corrections[k.strip()] = v
    r = _run(lambda: decide_item(app.ready_engine(), app.operator, item, decision, reason,
                                 corrections=corrections or None, four_eyes=four_eyes))
    emit(r, as_json, f"{r['item']}: {r['decision']} ({r['stage']} decision)"
         + (" — picked for a four-eyes check" if r["four_eyes"] else "")
         + (f"; correction recorded as version {r['correction']['version']}" if "correction" in r else ""))


@review.command(name="four-eyes", epilog=examples("census-audit --operator sup.wang review four-eyes --json"))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def four_eyes_(app: AppContext, as_json: bool) -> None:
    """Agreement between first and second decisions; the disagreements."""
    from audit_engine.access.operators import authorize
    from audit_engine.review.queue import four_eyes

    engine = app.ready_engine()
    _run(lambda: authorize(engine, app.operator, "aggregate"))
    r = four_eyes(engine)
    emit(r, as_json, f"{r['checked']} checked, agreement "
         + ("—" if r["agreement"] is None else f"{r['agreement']:.1%}") + f", {r['pending']} pending, "
         f"{len(r['disagreements'])} disagreements")
