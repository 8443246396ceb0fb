"""``census-audit lake export|info``: the lake the Spark backend reads (docs/scale.md)."""

from __future__ import annotations

from pathlib import Path

import click

from audit_engine.cli.context import AppContext, emit, examples
from audit_engine.cli.engine import lake_option


@click.group(epilog=examples("census-audit --operator sup.wang lake export --lake /data/lake",
                             "census-audit lake info --lake /data/lake --json"))
def lake() -> None:
    """The lake: census tables as Parquet, partitioned by province and county, for --engine spark."""


@lake.command(epilog=examples("census-audit --operator sup.wang lake export --lake /data/lake --source census"))
@lake_option()
@click.option("--source", type=click.Choice(["census", "pes"]), default="census", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def export(app: AppContext, lake: Path | None, source: str, as_json: bool) -> None:
    """Copy a source's persons, households and deaths from the store into the lake (replacing them
    there): a county loaded the local way joins a national Spark run. Recorded in the ledger."""
    from audit_engine.cli.context import UserError
    from audit_engine.ledger import append as ledger_append
    from audit_engine.spark.lake import export_store, fingerprint
    from rules.check import data_hash

    if lake is None:
        raise UserError("lake export needs --lake DIR")
    engine = app.engine_for("run")
    counts = export_store(engine, lake, source)
    fp = fingerprint(lake, source)
    ledger_append(engine, operator=app.operator, command="lake export", params={"source": source, "lake": str(lake)},
                  inputs={"data": data_hash(engine, source)}, result={"rows": counts, "lake": fp})
    emit({"source": source, "lake": str(lake), "rows": counts, "fingerprint": fp}, as_json,
         f"exported {source} to {lake}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
         + f"; fingerprint {fp[:16]}…")


@lake.command(epilog=examples("census-audit lake info --lake /data/lake"))
@lake_option()
@click.option("--json", "as_json", is_flag=True)
def info(lake: Path | None, as_json: bool) -> None:
    """Tables, rows (from the Parquet footers), provinces and counties in the lake."""
    from audit_engine.cli.context import UserError
    from audit_engine.spark.lake import KINDS, parquet_rows, table_path

    if lake is None or not lake.is_dir():
        raise UserError(f"--lake {lake}: no such folder")
    out: dict = {}
    for source in sorted(p.name for p in lake.iterdir() if p.is_dir() and p.name != "runs"):
        for kind in KINDS:
            path = table_path(lake, source, kind)
            if path.exists():
                out[f"{source}/{kind}"] = {
                    "rows": parquet_rows(path),
                    "provinces": len(list(path.glob("province=*"))),
                    "counties": len(list(path.glob("province=*/county=*")))}
    runs = sorted(p.name for p in (lake / "runs").iterdir()) if (lake / "runs").is_dir() else []
    emit({"lake": str(lake), "tables": out, "runs": runs}, as_json,
         "\n".join([f"lake {lake}"] + [f"  {k:<20} {v['rows']:>14,} rows  {v['provinces']} provinces, "
                                       f"{v['counties']} counties" for k, v in out.items()]
                   + [f"  runs: {', '.join(runs) if runs else '—'}"]))
