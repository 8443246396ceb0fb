"""``census-audit link``: PES ↔ census linkage and duplicates inside the census."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, UserError, emit, examples, progress_enabled
from audit_engine.cli.engine import engine_options, lake_option, spark_for


def _say(as_json: bool):
    show = progress_enabled(as_json)

    def say(msg: str) -> None:
        if show:
            click.echo(f"  link: {msg}", err=True)
    return say


@click.group(epilog=examples("census-audit --operator sup.wang link duplicates",
                             "census-audit --operator sup.wang link pes",
                             "census-audit --operator sup.wang link pes --search-area village --json",
                             "census-audit --operator sup.wang link register"))
def link() -> None:
    """Record linkage: the PES against the census, duplicates inside the census, the household register."""


@link.command(epilog=examples("census-audit --operator sup.wang link pes",
                              "census-audit --operator sup.wang link pes --sample 2 --search-area village",
                              "census-audit --operator sup.wang link pes --fmr 0.0005 --fnmr 0.002 --json"))
@click.option("--sample", "sample_id", type=int, help="Sealed sample whose EAs are linked (default: the newest).")
@click.option("--search-area", type=click.Choice(["ea", "village", "township", "county"]), default="township",
              show_default=True, help="Census persons searched for each sample EA's PES persons.")
@click.option("--fmr", type=float, default=0.001, show_default=True,
              help="Target false-match rate: the upper threshold (matches).")
@click.option("--fnmr", type=float, default=0.001, show_default=True,
              help="Target false-non-match rate: the lower threshold; pairs between go to clerical review.")
@lake_option(required_for_spark=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def pes(app: AppContext, sample_id: int | None, search_area: str, fmr: float, fnmr: float, lake, as_json: bool) -> None:
    """Link the PES persons of the sample EAs to the census; classify both samples; review items.

    With --lake the census persons of the search area are read from the lake (a national census
    loaded with --engine spark), not from the store."""
    from audit_engine.pes.linking import run_link_pes
    from sampling.design import DesignError

    engine = app.engine_for("run")
    try:
        s = run_link_pes(engine, app.operator, sample_id=sample_id, search_area=search_area, target_fmr=fmr,
                         target_fnmr=fnmr, progress=_say(as_json), lake=lake)
    except (ValueError, DesignError) as exc:
        raise UserError(f"link pes: {exc}") from exc
    p, e = s.p_sample, s.e_sample
    lines = [f"link pes run {s.run_id} (sample {s.sample_id}, search area {s.search_area}): {s.pes_persons:,} PES "
             f"persons against {s.census_search_area:,} census persons, {s.candidates:,} candidate pairs, "
             f"{s.seconds:.1f} s",
             f"  matches {s.matches:,} (posterior ≥ {s.upper['posterior_min']:.4f}, est. false-match rate "
             f"{s.upper['est_fmr']:.4%}); possible matches for review {s.possible:,} "
             f"(posterior ≥ {s.lower['posterior_min']:.4f})",
             "  P-sample: " + ", ".join(f"{k} {v:,}" for k, v in sorted(p.items())),
             "  E-sample: " + ", ".join(f"{k} {v:,}" for k, v in sorted(e.items())),
             f"  review items: {s.review_items:,}; duplicates from run {s.duplicates_run or '— (run link duplicates)'}"
             + (f"; model refined with {s.reviewed_pairs_used} reviewed pairs" if s.reviewed_pairs_used else "")]
    emit(s.to_dict(), as_json, "\n".join(lines))


@link.command(epilog=examples("census-audit --operator sup.wang link duplicates",
                              "census-audit --operator sup.wang link duplicates --fmr 0.0005 --json",
                              "census-audit --operator sup.wang link duplicates --engine spark --lake /shared/lake"))
@click.option("--fmr", type=float, default=0.001, show_default=True, help="Target false-match rate.")
@engine_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def duplicates(app: AppContext, fmr: float, engine_name: str, spark_master: str | None, lake, as_json: bool) -> None:
    """Find persons enumerated twice in the whole census; cluster them; one review item per cluster.

    --engine spark runs the same blocking, comparators and model on Spark over the lake's census
    (docs/scale.md); the pairs, clusters and review items land in the store as with local."""
    from audit_engine.pes.duplicates import run_link_duplicates

    engine = app.engine_for("run")
    spark = spark_for(engine_name, spark_master, lake)
    try:
        if spark is None:
            s = run_link_duplicates(engine, app.operator, target_fmr=fmr, progress=_say(as_json))
        else:
            from audit_engine.spark.dedupe import run_link_duplicates_spark

            s = run_link_duplicates_spark(engine, spark, lake, app.operator, target_fmr=fmr, progress=_say(as_json))
    except ValueError as exc:
        raise UserError(f"link duplicates: {exc}") from exc
    emit(s.to_dict(), as_json,
         f"link duplicates run {s.run_id}: {s.persons:,} census persons, {s.candidates:,} candidate pairs, "
         f"{s.pairs:,} duplicate pairs in {s.clusters:,} clusters ({s.extra_records:,} extra records, "
         f"{s.weak_clusters:,} with a weak link); {s.review_items:,} review items; {s.seconds:.1f} s")


@link.command(epilog=examples("census-audit --operator sup.wang link register",
                              "census-audit --operator sup.wang link register --fmr 0.0005 --json"))
@click.option("--fmr", type=float, default=0.001, show_default=True,
              help="Target false-match rate: the upper threshold (matches).")
@click.option("--fnmr", type=float, default=0.001, show_default=True,
              help="Target false-non-match rate: the lower threshold; pairs between go to review.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def register(app: AppContext, fmr: float, fnmr: float, as_json: bool) -> None:
    """Compare the census with the household-register extract; classes per record; review lists."""
    from audit_engine.register.classify import CLASSES
    from audit_engine.register.run import run_link_register

    try:
        s = run_link_register(app.engine_for("run"), app.operator, target_fmr=fmr, target_fnmr=fnmr,
                              progress=_say(as_json))
    except ValueError as exc:
        raise UserError(f"link register: {exc}") from exc
    cols = [c for c in CLASSES if c in s.classes]
    head = "  township   " + " ".join(f"{c:>20}" for c in cols)
    table = [f"  {t:<10} " + " ".join(f"{row.get(c, 0):>20,}" for c in cols) for t, row in s.by_township.items()]
    emit(s.to_dict(), as_json, "\n".join([
        f"link register run {s.run_id}: {s.census_persons:,} census persons against {s.register_persons:,} register "
        f"persons, {s.candidates:,} candidate pairs, {s.seconds:.1f} s",
        f"  matches {s.matches:,} (posterior ≥ {s.upper['posterior_min']:.4f}, est. false-match rate "
        f"{s.upper['est_fmr']:.4%}); possible matches {s.possible:,}; second census records of a matched register "
        f"person {s.shared:,}",
        "  classes: " + ", ".join(f"{c} {s.classes[c]:,}" for c in cols),
        f"  review items (kind register): {s.review_items:,}",
        "  by township:", head, *table]))
