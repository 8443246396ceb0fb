"""``census-audit estimate``: omission, erroneous enumeration, duplication and net coverage."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, UserError, emit, examples
from audit_engine.cli.engine import lake_option

LABELS = {"N": "population N̂", "net_undercount": "net undercount", "omission": "omission (gross)",
          "erroneous": "erroneous enumeration", "duplication": "duplication"}


@click.command(epilog=examples("census-audit --operator sup.wang estimate",
                               "census-audit --operator sup.wang estimate --post-strata age,urban --json",
                               "census-audit --operator sup.wang estimate --age-groups 0-14,15-59,60+"))
@click.option("--link-run", type=int, help="The `link pes` run to estimate from (default: the newest).")
@click.option("--post-strata", default="sex,age,urban", show_default=True,
              help="Post-stratum variables, any of sex, age, urban.")
@click.option("--age-groups", help="Age groups of the post-strata, e.g. 0-14,15-29,30-44,45-59,60+.")
@click.option("--ci", "ci_method", type=click.Choice(["beta", "logit", "wald"]), default="beta", show_default=True,
              help="Interval for rates: Korn-Graubard beta, logit, or Wald (t).")
@lake_option(required_for_spark=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def estimate(app: AppContext, link_run: int | None, post_strata: str, age_groups: str | None, ci_method: str,
             lake, as_json: bool) -> None:
    """Dual-system estimate of coverage with 95% intervals from the replicate weights; stored.

    With --lake the census counts and the sample EAs' census records come from the lake."""
    from audit_engine.pes.estimating import parse_age_groups, run_estimate

    engine = app.engine_for("run")
    try:
        s = run_estimate(engine, app.operator, link_run=link_run,
                         post_strata=[v.strip() for v in post_strata.split(",") if v.strip()],
                         age_groups=parse_age_groups(age_groups), ci_method=ci_method, lake=lake)
    except ValueError as exc:
        raise UserError(f"estimate: {exc}") from exc
    lines = [f"estimate run {s.run_id} from link run {s.link_run} (sample {s.sample_id}), post-strata "
             f"{' × '.join(s.post_strata) or 'none'}:"]
    if s.collapsed:
        lines.insert(0, f"  note: post-strata {' × '.join(s.collapsed[0]['post_strata'])} not estimable in every "
                        f"replicate (too few sample EAs); collapsed to {' × '.join(s.post_strata) or 'none'}")
    for stat, v in s.overall.items():
        if stat == "N":
            lines.append(f"  {LABELS[stat]:<22} {v['value']:>12,.0f}   95% CI {v['ci_low']:,.0f} – {v['ci_high']:,.0f}"
                         f"   (se {v['se']:,.0f})")
        else:
            lines.append(f"  {LABELS.get(stat, stat):<22} {v['value']:>11.3%}    95% CI {v['ci_low']:.3%} – "
                         f"{v['ci_high']:.3%}   (se {v['se']:.3%})")
    imp = s.imputed
    if imp["possible_matches_undecided"] or imp["unresolved_undecided"]:
        lines.append(f"  imputed pending review: {imp['possible_matches_undecided']:,} possible matches (by posterior), "
                     f"{imp['unresolved_undecided']:,} unresolved census records"
                     + (f" (P(correct) {imp['ce_probability']:.3f})" if imp["ce_probability"] is not None else ""))
    lines.append(f"  {s.rows:,} figures stored (overall, by stratum, by post-stratum)")
    emit(s.to_dict(), as_json, "\n".join(lines))
