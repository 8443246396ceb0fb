"""``census-audit quality``: age-sex data-quality indices and item non-response, by area or enumerator."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, emit, examples


def _v(d: dict | None, key: str = "value") -> str:
    v = (d or {}).get(key)
    return "—" if v is None else f"{v:.1f}"


@click.command(epilog=examples("census-audit --operator li.qc quality",
                               "census-audit --operator li.qc quality --by township",
                               "census-audit --operator li.qc quality --by enumerator --json"))
@click.option("--by", type=click.Choice(["ea", "township", "enumerator"]), help="Also give the indices per group.")
@click.option("--source", type=click.Choice(["census", "pes"]), default="census", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def quality(app: AppContext, by: str | None, source: str, as_json: bool) -> None:
    """Whipple, Myers, sex ratios, age ratios, UN age-sex accuracy index, item non-response."""
    from audit_engine.ledger import append
    from rules.quality import quality_indices

    engine = app.engine_for("aggregate")
    operator = app.operator
    data = quality_indices(engine, source=source, by=by)
    o = data["overall"]
    nonresp = sorted(o.get("item_nonresponse") or [], key=lambda r: -(r.get("share") or 0))[:5]
    lines = [f"{source}: {o['persons']:,} persons",
             f"  Whipple {_v(o['whipple'])}  Myers {_v(o['myers'])}  sex ratio {_v(o['sex_ratio'])}  "
             f"UN age-sex accuracy {_v(o['un_age_sex_accuracy'])}"
             + (f" ({o['un_age_sex_accuracy'].get('reason')})" if o["un_age_sex_accuracy"].get("reason") else ""),
             "  item non-response (highest): " + ", ".join(
                 f"{r['item']} {100 * r['share']:.2f}%" for r in nonresp if r.get("share") is not None)]
    if by:
        lines.append(f"  {'group':<18} {'persons':>8} {'Whipple':>8} {'Myers':>7} {'sex ratio':>9}")
        for g in data["groups"]:
            lines.append(f"  {str(g['key']):<18} {g['persons']:>8,} {_v(g['whipple']):>8} {_v(g['myers']):>7} "
                         f"{_v(g['sex_ratio']):>9}")
    append(engine, operator=operator, command="quality", params={"source": source, "by": by},
           result={"persons": o["persons"], "groups": len(data["groups"])})
    emit(data, as_json, "\n".join(lines))
