"""``census-audit reconcile listing``: the pre-enumeration listing (摸底) against the census count,
per EA, enumerator and township; EAs beyond tolerance become ``revisit`` review items.
Codes and counts only, never a name, ID number or address."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, UserError, emit, examples


def _percent(value: str) -> float:
    text = value.strip().rstrip("%")
    try:
        pct = float(text)
    except ValueError:
        raise click.BadParameter(f"{value!r}: give a percentage such as 5 or 5%") from None
    if not 0 <= pct < 100:
        raise click.BadParameter(f"{value!r}: must be within 0-100 %")
    return pct / 100.0


def _rate(v) -> str:
    return "     -" if v is None else f"{v:+6.1%}"


@click.group(epilog=examples("census-audit --operator sup.wang reconcile listing"))
def reconcile() -> None:
    """Reconcile enumeration counts with reference counts."""


@reconcile.command("listing", epilog=examples(
    "census-audit --operator sup.wang reconcile listing",
    "census-audit --operator sup.wang reconcile listing --tolerance 4% --min-persons 10",
    "census-audit --operator sup.wang reconcile listing --json"))
@click.option("--tolerance", "tolerance", default="5%", show_default=True, metavar="PCT",
              help="Flag an EA whose persons gap is beyond this share of the persons listed ...")
@click.option("--min-persons", type=click.IntRange(min=1), default=8, show_default=True,
              help="... and at least this many persons.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def listing(app: AppContext, tolerance: str, min_persons: int, as_json: bool) -> None:
    """Households and persons listed before the count vs. enumerated, per EA, enumerator and
    township; EAs off by more than the tolerance are flagged for a revisit (shortfall: fewer
    enumerated than listed, possible omission; surplus: more, possible duplication)."""
    from audit_engine.listing import NoListing, Tolerance, run_reconcile
    from audit_engine.listing.reconcile import records

    try:
        tol = Tolerance(relative=_percent(tolerance), min_persons=min_persons)
    except ValueError as exc:
        raise UserError(f"reconcile listing: {exc}") from exc
    engine = app.engine_for("run")
    try:
        out = run_reconcile(engine, app.operator, tol)
    except NoListing as exc:
        raise UserError(f"reconcile listing: {exc}") from exc
    s = out.summary()
    res = out.result
    lines = [f"reconcile listing run {out.run_id}: {s['eas']:,} EAs, {s['persons_listed']:,} persons listed, "
             f"{s['persons_enumerated']:,} enumerated; tolerance ±{tol.relative:.1%} of listed and at least "
             f"{tol.min_persons} persons",
             f"  {s['shortfall_eas']} shortfall EAs, {s['surplus_eas']} surplus EAs, {s['review_items']} revisit items",
             f"  {'township':<10} {'EAs':>4} {'hh listed':>9} {'hh enum':>8} {'listed':>7} {'enum':>7} {'gap':>6} "
             f"{'rate':>7} {'short':>5} {'surpl':>5}"]
    for r in records(res.townships):
        lines.append(f"  {r['township_code']:<10} {r['eas']:>4} {r['households_listed']:>9,} "
                     f"{r['households_enumerated']:>8,} {r['persons_listed']:>7,} {r['persons_enumerated']:>7,} "
                     f"{r['persons_gap']:>+6} {_rate(r['gap_rate']):>7} {r['shortfall_eas']:>5} {r['surplus_eas']:>5}")
    flagged = [r for r in records(res.eas) if r["flag"]]
    if flagged:
        lines.append(f"  flagged EAs:\n  {'EA':<16} {'enumerator':<10} {'hh listed':>9} {'hh enum':>8} {'listed':>7} "
                     f"{'enum':>7} {'gap':>6} {'rate':>7} {'limit':>5}  flag")
        for r in flagged:
            lines.append(f"  {r['ea_code']:<16} {r['enumerator_id']:<10} {r['households_listed']:>9,} "
                         f"{r['households_enumerated']:>8,} {r['persons_listed']:>7,} {r['persons_enumerated']:>7,} "
                         f"{r['persons_gap']:>+6} {_rate(r['gap_rate']):>7} {r['limit']:>5}  {r['flag']}")
    en = [r for r in records(res.enumerators) if r["flag"]]
    if en:
        lines.append("  enumerators beyond tolerance: " + ", ".join(
            f"{r['enumerator_id']} ({r['flag']}, {r['persons_gap']:+d})" for r in en))
    emit({**s, "eas_table": records(res.eas), "enumerators_table": records(res.enumerators),
          "townships_table": records(res.townships)}, as_json, "\n".join(lines))
