"""``census-audit check``: run a rule set over the store and store the failures as flags."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, UserError, emit, examples, progress_enabled
from audit_engine.cli.engine import engine_options, spark_for


@click.command(epilog=examples("census-audit --operator li.qc check",
                               "census-audit --operator li.qc check --area 320831001 --json",
                               "census-audit --operator li.qc check --rules my_edits.yaml --param head_min_age=16",
                               "census-audit --operator li.qc check --engine spark --lake /shared/lake"))
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False),
              help="Rule set YAML (default: the bundled census2020.yaml).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Override a rule set parameter.")
@click.option("--area", metavar="CODE", help="Only EAs whose code starts with CODE (county, township or EA).")
@click.option("--source", type=click.Choice(["census", "pes"]), default="census", show_default=True)
@click.option("--localise/--no-localise", default=True, show_default=True,
              help="Name the field(s) most likely wrong for each failing record (Fellegi-Holt).")
@engine_options
@click.option("--store-flags/--no-store-flags", default=True, show_default=True,
              help="With --engine spark: also insert the flags into the store (they are always written to the "
                   "lake as Parquet); off for a national run whose review reads the lake.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def check(app: AppContext, rules_path: str | None, params: tuple[str, ...], area: str | None, source: str,
          localise: bool, engine_name: str, spark_master: str | None, lake, store_flags: bool, as_json: bool) -> None:
    """Check every record against the rule set; failures become flags for QC review.

    --engine spark applies the same compiled rule set on Spark, EA by EA, over the lake
    (docs/scale.md); the run, its per-rule counts and the ledger entry are the same as local."""
    from rules.check import run_check
    from rules.ruleset import RuleSetError, load_ruleset

    engine = app.engine_for("run")
    operator = app.operator
    try:
        ruleset = load_ruleset(rules_path, _parse_params(params))
    except RuleSetError as exc:
        raise UserError(str(exc)) from exc
    localiser = _localiser() if localise else None
    show = progress_enabled(as_json)

    def progress(done: int, total: int) -> None:
        if show:
            click.echo(f"\r  check: EA group {done}/{total}", nl=False, err=True)

    spark = spark_for(engine_name, spark_master, lake)
    if spark is None:
        s = run_check(engine, ruleset, operator=operator, source=source, area=area, localiser=localiser,
                      progress=progress)
    else:
        from audit_engine.spark.check import run_check_spark

        s = run_check_spark(engine, spark, lake, ruleset, operator=operator, source=source, area=area,
                            localiser=localiser, store_flags=store_flags, progress=progress)
    if show:
        click.echo("", err=True)
    lines = [f"check run {s.run_id}: {s.ruleset} ({s.ruleset_hash[:12]}) on {s.source}"
             f"{' area ' + s.area if s.area else ''}: {s.persons:,} persons, {s.households:,} households, "
             f"{s.deaths:,} deaths; {s.flags:,} flags in {s.seconds:.1f} s",
             f"{'rule':<6} {'severity':<8} {'scope':<9} {'items':>9} {'passes':>9} {'fails':>7} {'n/a':>9} {'fail %':>7}"]
    for r in s.rules:
        checked = r["passes"] + r["fails"]
        rate = 100 * r["fails"] / checked if checked else 0.0
        lines.append(f"{r['id']:<6} {r['severity']:<8} {r['scope']:<9} {r['items']:>9,} {r['passes']:>9,} "
                     f"{r['fails']:>7,} {r['na']:>9,} {rate:>6.2f}%")
    emit(s.to_dict(), as_json, "\n".join(lines))


def _parse_params(items: tuple[str, ...]) -> dict:
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--param {item!r}: write NAME=VALUE")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() else float(v)
        except ValueError:
            out[k.strip()] = v
    return out


def _localiser():
    try:
        from rules.localise import localise_failures
    except ImportError:  # pragma: no cover - localisation arrives with its own module
        return None
    return localise_failures
