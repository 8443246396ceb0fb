"""``census-audit demo``: the whole pipeline on a synthetic county, in a fresh folder.

Steps: synth -> init -> load (areas, enumerators, census, PES, listing, household register) ->
check -> quality indices -> PES sample (sealed) -> sample verify -> link duplicates -> link pes ->
estimate -> link register -> reconcile listing -> accountability figures -> operators -> QC work (simulated from the ground truth, through the real queue: a
township QC officer and a county one decide the linkage items and the township's flags) ->
estimate again with the follow-up outcomes -> review statistics -> the QC officer's export ->
the reports (accuracy, rules, linkage, enumerators, bulletin) -> ledger verify. The synthetic PES enumerates every EA, so whichever EAs the
sealed sample selects, their PES records exist (the PES linkage reads only those).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import click

from audit_engine.cli.context import AppContext, UserError, emit
from audit_engine.cli.status import store_counts
from audit_engine.cli.synth import run_synth
from audit_engine.io.load import REFERENCE, REGISTER, load_file
from audit_engine.ledger import verify
from audit_engine.store import make_engine
from audit_engine.store.migrate import upgrade

MARKER = ".census-audit-demo"

LOAD_ORDER = (
    ("areas.csv", REFERENCE, "areas"),
    ("enumerators.csv", REFERENCE, "enumerators"),
    ("census/households.csv", "census", "households"),
    ("census/persons.csv", "census", "persons"),
    ("census/deaths.csv", "census", "deaths"),
    ("pes/households.csv", "pes", "households"),
    ("pes/persons.csv", "pes", "persons"),
    ("listing.csv", REFERENCE, "listing"),
    ("register/register.csv", REGISTER, "register"),
)


@click.command(epilog="\b\nExamples:\n  census-audit demo\n  census-audit demo --persons 200000 --out /tmp/county --json")
@click.option("--persons", default=20_000, show_default=True, type=click.IntRange(100))
@click.option("--seed", default=2020, show_default=True, type=int)
@click.option("--out", default="demo-out", show_default=True, type=click.Path(file_okay=False),
              help="Fresh folder for the data, the store and the outputs.")
@click.option("--review/--no-review", default=True, show_default=True,
              help="Simulate the QC officers' decisions from the ground truth, then estimate again.")
@click.option("--reports/--no-reports", default=True, show_default=True, help="Issue the four reports and the county bulletin (zh).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def demo(app: AppContext, persons: int, seed: int, out: str, review: bool, reports: bool, as_json: bool) -> None:
    """Run the pipeline end to end on a synthetic county (SQLite store inside --out unless --db)."""
    out_dir = Path(out).resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / MARKER).exists():
            raise UserError(f"{out}: folder is not empty and is not a previous demo; choose another --out")
        shutil.rmtree(out_dir)  # our own previous demo: start afresh
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text("made by census-audit demo; the next demo run replaces this folder\n", "utf-8")
    operator = app.operator_opt or "demo"
    url = app.db or f"sqlite:///{out_dir / 'census_audit.db'}"
    steps: list[dict] = []

    def step(name: str, fn):
        t0 = time.perf_counter()
        if not as_json:
            click.echo(f"[{len(steps) + 1}] {name} …", err=True)
        result = fn()
        steps.append({"step": name, "seconds": round(time.perf_counter() - t0, 2)})
        return result

    data_dir = out_dir / "data"
    step(f"synth {persons:,} persons (seed {seed})", lambda: run_synth(persons, seed, data_dir))
    engine = make_engine(url)
    step("init store", lambda: upgrade(engine))
    loads = {}
    for rel, source, kind in LOAD_ORDER:
        path = data_dir / rel
        if path.exists():
            s = step(f"load {rel}", lambda p=path, src=source, k=kind: load_file(engine, p, src, operator=operator, kind=k))
            loads[rel] = {"loaded": s.rows_loaded, "quarantined": s.rows_quarantined}
    from audit_engine.cli.check import _localiser
    from audit_engine.ledger import append
    from rules.check import run_check
    from rules.quality import quality_indices
    from rules.ruleset import load_ruleset

    ruleset = load_ruleset()
    chk = step(f"check ({len(ruleset.rules)} rules)",
               lambda: run_check(engine, ruleset, operator=operator, localiser=_localiser()))
    quality = step("quality indices by township", lambda: quality_indices(engine, by="township"))
    quality_path = out_dir / "quality.json"
    quality_path.write_text(json.dumps(quality, ensure_ascii=False, indent=1, default=str), "utf-8")
    append(engine, operator=operator, command="quality", params={"source": "census", "by": "township"},
           result={"persons": quality["overall"]["persons"], "groups": len(quality["groups"])})
    from sampling.design import load_design
    from sampling.draw import draw
    from sampling.store import read_frame, save_sample, verify_sample

    design = load_design()
    drawn = step(f"PES sample ({design.name}, seed {seed})", lambda: draw(design, read_frame(engine, design), seed))
    sample_id = save_sample(engine, design, seed, drawn, operator)
    sealed = step("sample verify", lambda: verify_sample(engine, operator, sample_id))
    from audit_engine.pes.duplicates import run_link_duplicates
    from audit_engine.pes.estimating import run_estimate
    from audit_engine.pes.linking import run_link_pes

    dup = step("link duplicates (whole census)", lambda: run_link_duplicates(engine, operator))
    linked = step("link pes (sample EAs, township search area)", lambda: run_link_pes(engine, operator))
    est = step("estimate (dual-system, JKn)", lambda: run_estimate(engine, operator))
    from audit_engine.listing.store import run_reconcile
    from audit_engine.register.run import run_link_register

    reg = step("link register (census <-> household register)", lambda: run_link_register(engine, operator))
    rec = step("reconcile listing (listed vs enumerated per EA)", lambda: run_reconcile(engine, operator))
    from audit_engine.access.operators import add_operator
    from audit_engine.accountability.figures import flag_figures, omission_figures
    from audit_engine.exports.flags import export_flags

    def accountability() -> dict:
        figs = {"enumerators": flag_figures(engine, "enumerator").as_dict(),
                "townships": flag_figures(engine, "township").as_dict(),
                "pes_omission_by_ea": omission_figures(engine, "ea").as_dict()}
        path = out_dir / "accountability.json"
        path.write_text(json.dumps(figs, ensure_ascii=False, indent=1, default=str), "utf-8")
        return figs

    # operators: from here on every command checks role and scope (docs/review.md)
    first_town = str(read_frame(engine, design)["ea_code"].min())[:9]
    add_operator(engine, operator, "demo.admin", "admin")
    add_operator(engine, "demo.admin", "demo.qc", "qc", [first_town])
    add_operator(engine, "demo.admin", operator, "supervision")
    reviewed: dict = {}
    if review:
        from audit_engine.synth.fieldwork import simulate_review

        add_operator(engine, "demo.admin", "demo.qc.county", "qc", [first_town[:6]])
        reviewed = step("QC work: linkage items and township flags decided (simulated from the truth)",
                        lambda: simulate_review(engine, data_dir / "truth", ["demo.qc", "demo.qc.county"]))
        est = step("estimate again, with the follow-up outcomes", lambda: run_estimate(engine, operator))
    figs = step("accountability figures (funnel limits)", accountability)
    from audit_engine.review.stats import review_statistics

    stats = step("review statistics", lambda: review_statistics(engine))
    (out_dir / "exports").mkdir(exist_ok=True)
    exported = step(f"export flags of QC officer demo.qc (township {first_town}, masked)",
                    lambda: export_flags(engine, "demo.qc", out_dir / "exports" / "flags_demo.qc.csv"))
    issued: list[dict] = []
    if reports:
        from reports.issue import KINDS, issue

        for kind in (*KINDS, "bulletin"):   # the four reports and the county's supervision bulletin
            issued.append(step(f"report {kind}", lambda k=kind: issue(
                engine, k, out_dir / "reports", lang="zh", operator=operator)).as_dict())
    v = step("ledger verify", lambda: verify(engine))
    data = {
        "out": str(out_dir), "store": make_engine(url).url.render_as_string(hide_password=True),
        "data": str(data_dir), "steps": steps, "loads": loads, "store_counts": store_counts(engine),
        "ledger": {"ok": v.ok, "entries": v.entries, "head_hash": v.head_hash},
        "check": {"run_id": chk.run_id, "flags": chk.flags, "ruleset_hash": chk.ruleset_hash,
                  "fails_by_severity": {s: sum(r["fails"] for r in chk.rules if r["severity"] == s)
                                        for s in ("error", "warning", "info")}},
        "quality": str(quality_path),
        "sample": {"sample_id": sample_id, "design": design.name, "seed": seed, "units": len(drawn.units),
                   "strata": int((drawn.strata["n_h"] > 0).sum()), "frame_units": int(drawn.strata["N_h"].sum()),
                   "selection_hash": drawn.selection_hash, "verified": sealed.ok},
        "duplicates": {"run_id": dup.run_id, "pairs": dup.pairs, "clusters": dup.clusters,
                       "extra_records": dup.extra_records},
        "link": {"run_id": linked.run_id, "pes_persons": linked.pes_persons, "matches": linked.matches,
                 "possible": linked.possible, "review_items": linked.review_items, "e_sample": linked.e_sample},
        "estimate": {"run_id": est.run_id, "overall": est.overall},
        "register": {"run_id": reg.run_id, "matches": reg.matches, "classes": reg.classes,
                     "review_items": reg.review_items},
        "listing": rec.summary(),
        "accountability": {"path": str(out_dir / "accountability.json"),
                           "enumerators_above_95": sum(1 for r in figs["enumerators"]["units"]
                                                       if str(r.get("outlier", "")).startswith("above"))},
        "export": {"path": str(exported.path), "rows": exported.rows, "sha256": exported.sha256},
        "review": {"simulated": reviewed, **stats},
        "reports": issued,
    }
    lines = [f"demo finished in {sum(s['seconds'] for s in steps):.1f} s",
             f"  synthetic data : {data_dir}", f"  store          : {data['store']}"]
    lines += [f"  {rel:<24} {c['loaded']:>9,} loaded {c['quarantined']:>6,} quarantined" for rel, c in loads.items()]
    lines.append(f"  check          : run {chk.run_id}, {chk.flags:,} flags for QC review "
                 f"({data['check']['fails_by_severity']['error']:,} errors, "
                 f"{data['check']['fails_by_severity']['warning']:,} warnings)")
    lines.append(f"  quality indices: {quality_path}")
    lines.append(f"  PES sample     : {len(drawn.units)} of {data['sample']['frame_units']} EAs in "
                 f"{data['sample']['strata']} strata, sealed {drawn.selection_hash[:16]}…, verified={sealed.ok}")
    lines.append(f"  duplicates     : run {dup.run_id}, {dup.clusters:,} clusters, {dup.extra_records:,} extra records")
    lines.append(f"  PES linkage    : run {linked.run_id}, {linked.matches:,} of {linked.pes_persons:,} PES persons "
                 f"matched, {linked.possible:,} possible, {linked.review_items:,} review items")
    o = est.overall
    lines.append(f"  coverage       : run {est.run_id}, omission {o['omission']['value']:.2%} "
                 f"(95% CI {o['omission']['ci_low']:.2%}–{o['omission']['ci_high']:.2%}), net undercount "
                 f"{o['net_undercount']['value']:.2%} ({o['net_undercount']['ci_low']:.2%}–"
                 f"{o['net_undercount']['ci_high']:.2%})")
    lines.append(f"  register       : run {reg.run_id}, {reg.matches:,} census persons found in the register; "
                 + ", ".join(f"{k} {reg.classes.get(k, 0):,}" for k in ("registered_elsewhere", "no_registration",
                                                                          "not_enumerated", "deceased_enumerated"))
                 + f"; {reg.review_items:,} review items")
    ls = data["listing"]
    lines.append(f"  listing        : run {rec.run_id}, {ls['persons_enumerated']:,} of {ls['persons_listed']:,} listed "
                 f"persons enumerated; {ls['shortfall_eas']} EAs short and {ls['surplus_eas']} over tolerance, to revisit")
    lines.append(f"  accountability : {data['accountability']['path']} "
                 f"({data['accountability']['enumerators_above_95']} enumerators above the 95% funnel limit)")
    if reviewed:
        lines.append(f"  QC work        : {_decided(stats['decisions'].get('review', {}))} linkage items and "
                     f"{_decided(stats['decisions'].get('flag', {}))} flags decided (simulated from the truth); "
                     f"four-eyes {stats['four_eyes']['checked']} checked")
    lines.append(f"  review backlog : {_open(stats)}")
    lines.append(f"  QC export      : {exported.path} ({exported.rows:,} flags of township {first_town}, masked)")
    for r in issued:
        lines.append(f"  report         : {r['path']} (sha256 {r['sha256'][:16]}…)")
    lines.append(f"  ledger         : {v.entries} entries, intact={v.ok}, head {v.head_hash}")
    lines.append(f"  ground truth   : {data_dir / 'truth'}")
    for r in issued:
        if r["kind"] == "accuracy":
            lines.append(f"accuracy report: {r['path']}")
    emit(data, as_json, "\n".join(lines))


def _decided(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    return f"{total:,}" + (" (" + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) + ")" if counts else "")


def _open(stats: dict) -> str:
    """``981 flags, 0 duplicate clusters, 0 follow-ups open; four-eyes 20 pending``."""
    names = {"cluster": "duplicate clusters", "followup": "follow-ups", "pair": "possible matches",
             "register": "register checks", "revisit": "EA revisits"}
    parts = [f"{stats['flags'].get('open', 0):,} flags"]
    parts += [f"{v.get('open', 0):,} {names.get(k, k)}" for k, v in sorted(stats["items"].items())]
    return ", ".join(parts) + f" open; four-eyes {stats['four_eyes'].get('pending', 0):,} pending"
