"""``census-audit export``: masked flag exports for QC officers, pseudonymous linkage exports."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, UserError, emit, examples


@click.group(epilog=examples("census-audit --operator qc.zhang export flags --out flags.xlsx",
                             "CENSUS_AUDIT_SECRET=... census-audit --operator sup.wang export links --run 12 --out pairs.csv"))
def export() -> None:
    """Export files that leave the review view: masked flags, pseudonymous linkage pairs."""


@export.command(epilog=examples("census-audit --operator qc.zhang export flags --out flags.xlsx",
                                "census-audit --operator qc.zhang export flags --out flags.csv --json"))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="File to write: .csv (UTF-8 with BOM, opens in Excel) or .xlsx.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def flags(app: AppContext, out: str, as_json: bool) -> None:
    """The flags in your scope (QC officers only), names and ID numbers masked."""
    from audit_engine.access.operators import Refused
    from audit_engine.exports.flags import export_flags

    try:
        s = export_flags(app.ready_engine(), app.operator, out)
    except (Refused, ValueError) as exc:
        raise UserError(f"export flags: {exc}") from exc
    emit({"file": s.path, "rows": s.rows, "sha256": s.sha256, "format": s.file_format}, as_json,
         f"{s.rows:,} flags written to {s.path} (masked; sha256 {s.sha256[:16]}…)")


@export.command(epilog=examples("CENSUS_AUDIT_SECRET=\"$(cat /etc/census-audit/secret)\" \\",
                                "  census-audit --operator sup.wang export links --run 12 --out pairs.csv",
                                "census-audit --operator sup.wang export links --run 9 --out dups.csv --json"))
@click.option("--run", "run_id", required=True, type=int, help="A 'link pes' or 'link duplicates' run.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="File to write: .csv (UTF-8 with BOM), or .xlsx when the pairs fit in a sheet.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def links(app: AppContext, run_id: int, out: str, as_json: bool) -> None:
    """A link run's pairs with HMAC pseudonyms (CENSUS_AUDIT_SECRET) for person keys and ID numbers."""
    from audit_engine.access.operators import Refused
    from audit_engine.access.pseudonym import SecretError
    from audit_engine.exports.links import export_links

    try:
        s = export_links(app.ready_engine(), app.operator, run_id, out)
    except (Refused, ValueError, SecretError) as exc:
        raise UserError(f"export links: {exc}") from exc
    emit({"file": s.path, "rows": s.rows, "sha256": s.sha256, "format": s.file_format, "run_id": run_id}, as_json,
         f"{s.rows:,} pairs of run {run_id} written to {s.path} (pseudonymous; sha256 {s.sha256[:16]}…)")
