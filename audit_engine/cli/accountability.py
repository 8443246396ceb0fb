"""``census-audit accountability``: flag, confirmed-error and PES omission rates by unit, with
funnel-plot limits marking outliers for follow-up. Aggregates only, never a record."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, UserError, emit, examples


def _pct(v) -> str:
    return "     -" if v is None else f"{v:6.2%}"


def _flag_text(fig) -> str:
    o = fig.overall
    lines = [f"flags by {fig.by} (check run {fig.run_id}): {o['flagged']:,} of {o['persons']:,} persons flagged "
             f"({_pct(o['flag_rate']).strip()}); {o['confirmed']:,} of {o['decided']:,} decided flags confirmed"
             + (f" ({_pct(o['confirmed_rate']).strip()})" if o["confirmed_rate"] is not None else ""),
             "  outliers: " + ", ".join(f"{k} {v}" for k, v in o["outliers"].items()),
             f"  {'unit':<18} {'persons':>8} {'flagged':>8} {'rate':>7} {'95% up':>7} {'99.8% up':>8} "
             f"{'outlier':<12} {'conf/dec':>9} {'rate':>7} {'outlier':<12}"]
    for r in fig.rows:
        lines.append(f"  {str(r['unit']):<18} {r['persons']:>8,} {r['flagged']:>8,} {_pct(r['flag_rate']):>7} "
                     f"{_pct(r.get('flag_upper_95')):>7} {_pct(r.get('flag_upper_99_8')):>8} {r['outlier']:<12} "
                     f"{str(r['confirmed']) + '/' + str(r['decided']):>9} {_pct(r['confirmed_rate']):>7} "
                     f"{r['confirmed_outlier']:<12}")
    return "\n".join(lines)


def _omission_text(fig) -> str:
    o = fig.overall
    lines = [f"PES omissions by {fig.by} (link pes run {fig.run_id}): {o['omitted']:,} of {o['p_persons']:,} valid "
             f"P-sample persons not found in the census ({_pct(o['omission_rate']).strip()}) in {o['eas']} EAs; "
             f"{o['possible_open']:,} possible matches undecided",
             "  outliers: " + ", ".join(f"{k} {v}" for k, v in o["outliers"].items()),
             f"  {'unit':<18} {'P persons':>9} {'omitted':>8} {'rate':>7} {'95% up':>7} {'99.8% up':>8} {'outlier':<12}"]
    for r in fig.rows:
        lines.append(f"  {str(r['unit']):<18} {r['p_persons']:>9,} {r['omitted']:>8,} {_pct(r['omission_rate']):>7} "
                     f"{_pct(r.get('omission_upper_95')):>7} {_pct(r.get('omission_upper_99_8')):>8} {r['outlier']:<12}")
    return "\n".join(lines)


@click.command(epilog=examples("census-audit --operator sup.wang accountability",
                               "census-audit --operator sup.wang accountability --by supervisor --json",
                               "census-audit --operator leader.li accountability --by township",
                               "census-audit --operator sup.wang accountability --pes --by ea"))
@click.option("--by", type=click.Choice(["enumerator", "supervisor", "ea", "township"]), default="enumerator",
              show_default=True, help="Unit to compare (--pes: enumerator or ea).")
@click.option("--pes", is_flag=True, help="PES omissions (newest link pes run) instead of flag rates.")
@click.option("--run", "run_id", type=int, help="Check run (or, with --pes, link pes run); default: the newest done.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def accountability(app: AppContext, by: str, pes: bool, run_id: int | None, as_json: bool) -> None:
    """Flag and confirmed-error rates (or PES omissions) by unit, with 95% and 99.8% binomial
    funnel limits; units above the limits are the ones to follow up."""
    from audit_engine.access.operators import Refused, authorize
    from audit_engine.accountability import NoData, flag_figures, omission_figures
    from audit_engine.ledger import append

    engine = app.ready_engine()
    try:
        authorize(engine, app.operator, "aggregate")
    except Refused as exc:
        raise UserError(str(exc)) from exc
    try:
        if pes:
            if by not in ("enumerator", "ea"):
                raise UserError("accountability --pes: --by must be enumerator or ea")
            fig = omission_figures(engine, by, run_id)
            text = _omission_text(fig)
        else:
            fig = flag_figures(engine, by, run_id)
            text = _flag_text(fig)
    except NoData as exc:
        raise UserError(f"accountability: {exc}") from exc
    append(engine, operator=app.operator, command="accountability",
           params={"by": by, "pes": pes, "run_id": fig.run_id},
           result={"units": fig.overall["units"], "outliers": fig.overall["outliers"]})
    emit({"kind": "pes_omissions" if pes else "flags", **fig.as_dict()}, as_json, text)
