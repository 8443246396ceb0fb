"""``census-audit report``: issue the HTML reports (accuracy, rules, linkage, enumerators, the
supervision bulletin) and verify an issued report against the ledger."""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from audit_engine.cli.context import AppContext, UserError, emit, examples

LANG = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                    help="Language of the report.")
OUT = click.option("--out", "out_dir", default="reports-out", show_default=True,
                   type=click.Path(file_okay=False), help="Folder the report is written to (<kind>.<lang>.html).")
JSON = click.option("--json", "as_json", is_flag=True)
PDF = click.option("--pdf", is_flag=True, help="Also print the report to PDF (needs Chromium).")


def _issue(app: AppContext, kind: str, out_dir: str, lang: str, as_json: bool, options: dict,
           pdf: bool = False) -> None:
    from reports.issue import ReportError, issue

    engine = app.engine_for("report")
    try:
        issued = issue(engine, kind, out_dir, lang=lang, operator=app.operator, options=options, pdf=pdf)
    except ReportError as exc:
        raise UserError(f"report {kind}: {exc}") from exc
    emit(issued.as_dict(), as_json, f"{kind} report ({lang}): {issued.path}\n"
         f"  sha256 {issued.sha256} ({issued.bytes:,} bytes), ledger entry #{issued.ledger_seq}"
         + (f"\n  pdf {issued.pdf} sha256 {issued.pdf_sha256}" if issued.pdf else ""))


@click.group(epilog=examples("census-audit --operator leader.li report accuracy --out reports/",
                             "census-audit --operator leader.li report accuracy --previous omission=0.12% "
                             "--previous-label 第六次人口普查",
                             "census-audit --operator sup.wang report all --lang en --out reports/",
                             "census-audit report verify reports/accuracy.zh.html"))
def report() -> None:
    """HTML reports for leadership and supervision: aggregates only, each file's SHA-256 in the ledger."""


@report.command(epilog=examples("census-audit --operator leader.li report accuracy",
                                "census-audit --operator leader.li report accuracy --run 12 --lang en",
                                "census-audit --operator leader.li report accuracy --previous omission=0.12%"))
@click.option("--run", "run_id", type=int, help="Estimate run (default: the newest finished).")
@click.option("--previous", multiple=True, metavar="STAT=RATE",
              help="A previous census figure to compare with (omission, duplication, erroneous, net_undercount).")
@click.option("--previous-label", metavar="TEXT", help="What the previous figures are (e.g. 第六次人口普查).")
@OUT
@LANG
@PDF
@JSON
@click.pass_obj
def accuracy(app: AppContext, run_id: int | None, previous: tuple[str, ...], previous_label: str | None,
             out_dir: str, lang: str, pdf: bool, as_json: bool) -> None:
    """Omission, duplication and net coverage with 95% CIs, by stratum and post-stratum."""
    from reports.accuracy import parse_previous

    try:
        prev = parse_previous(previous)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    _issue(app, "accuracy", out_dir, lang, as_json,
           {"run_id": run_id, "previous": prev or None, "previous_label": previous_label}, pdf)


@report.command(epilog=examples("census-audit --operator sup.wang report rules",
                                "census-audit --operator sup.wang report rules --run 8 --lang en"))
@click.option("--run", "run_id", type=int, help="Check run (default: the newest finished check of the census).")
@OUT
@LANG
@PDF
@JSON
@click.pass_obj
def rules(app: AppContext, run_id: int | None, out_dir: str, lang: str, pdf: bool, as_json: bool) -> None:
    """Failures per rule, by township, data-quality indices and age-sex pyramids."""
    _issue(app, "rules", out_dir, lang, as_json, {"run_id": run_id}, pdf)


@report.command(epilog=examples("census-audit --operator sup.wang report linkage",
                                "census-audit --operator sup.wang report linkage --pes-run 11 --lang en"))
@click.option("--pes-run", type=int, help="link pes run (default: the newest finished).")
@click.option("--duplicates-run", type=int, help="link duplicates run (default: the newest finished).")
@OUT
@LANG
@PDF
@JSON
@click.pass_obj
def linkage(app: AppContext, pes_run: int | None, duplicates_run: int | None, out_dir: str, lang: str,
            pdf: bool, as_json: bool) -> None:
    """m/u tables, match-weight histograms with thresholds, blocking counts, clerical review."""
    _issue(app, "linkage", out_dir, lang, as_json, {"pes_run": pes_run, "duplicates_run": duplicates_run}, pdf)


@report.command(epilog=examples("census-audit --operator sup.wang report enumerators",
                                "census-audit --operator sup.wang report enumerators --lang en"))
@click.option("--run", "run_id", type=int, help="Check run (default: the newest finished check of the census).")
@OUT
@LANG
@PDF
@JSON
@click.pass_obj
def enumerators(app: AppContext, run_id: int | None, out_dir: str, lang: str, pdf: bool, as_json: bool) -> None:
    """Funnel plot of enumerators' flag rates and the outliers to follow up."""
    _issue(app, "enumerators", out_dir, lang, as_json, {"run_id": run_id}, pdf)


@report.command(epilog=examples("census-audit --operator sup.wang report bulletin --out reports/",
                                "census-audit --operator sup.wang report bulletin --township 320831101 --lang en"))
@click.option("--township", "townships", multiple=True, metavar="CODE",
              help="Only this township's bulletin (repeatable); default: the county's and every township's.")
@click.option("--run", "run_id", type=int, help="Check run (default: the newest finished check of the census).")
@OUT
@LANG
@PDF
@JSON
@click.pass_obj
def bulletin(app: AppContext, townships: tuple[str, ...], run_id: int | None, out_dir: str, lang: str, pdf: bool,
             as_json: bool) -> None:
    """The supervision bulletin (督查通报): progress, flag and error rates, register gaps, backlog, follow-up."""
    from reports.common import township_names
    from reports.issue import ReportError, issue

    engine = app.engine_for("report")
    scopes: list[str | None] = list(townships) if townships else [None, *sorted(township_names(engine))]
    out = []
    for township in scopes:
        try:
            out.append(issue(engine, "bulletin", out_dir, lang=lang, operator=app.operator, pdf=pdf,
                             options={"run_id": run_id, "township": township}).as_dict())
        except ReportError as exc:
            raise UserError(f"report bulletin{f' --township {township}' if township else ''}: {exc}") from exc
    emit({"reports": out}, as_json, "\n".join(f"{Path(r['path']).name:<32} sha256 {r['sha256'][:16]}…, "
                                              f"ledger entry #{r['ledger_seq']}" for r in out))


@report.command("all", epilog=examples("census-audit --operator sup.wang report all --out reports/"))
@OUT
@LANG
@PDF
@JSON
@click.pass_obj
def all_reports(app: AppContext, out_dir: str, lang: str, pdf: bool, as_json: bool) -> None:
    """The four reports and the county's supervision bulletin, with their defaults (newest runs)."""
    from reports.issue import KINDS, ReportError, issue

    engine = app.engine_for("report")
    out = []
    for kind in (*KINDS, "bulletin"):
        try:
            out.append(issue(engine, kind, out_dir, lang=lang, operator=app.operator, pdf=pdf).as_dict())
        except ReportError as exc:
            raise UserError(f"report {kind}: {exc}") from exc
    emit({"reports": out}, as_json, "\n".join(f"{r['kind']:<12} {r['path']}  sha256 {r['sha256'][:16]}…" for r in out))


@report.command(epilog=examples("census-audit report verify reports-out/accuracy.zh.html"))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@JSON
@click.pass_obj
def verify(app: AppContext, file: str, as_json: bool) -> None:
    """Is this file, byte for byte, a report the ledger says was issued? Exit 1 if not."""
    from reports.issue import find_issued

    engine = app.ready_engine()
    sha = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    found = find_issued(engine, sha)
    data = {"file": file, "sha256": sha, "issued": found is not None, "entry": found}
    if found:
        text = (f"{file}: issued — ledger entry #{found['seq']} ({found['ts']}) by {found['operator']}, "
                f"{found['params'].get('kind')} report from runs {found['params'].get('runs')}")
    else:
        text = f"{file}: NOT in the ledger (sha256 {sha}): altered, or never issued from this store"
    emit(data, as_json, text)
    if not found:
        raise SystemExit(1)
