"""``census-audit load census|pes|areas|enumerators|listing|register FILE``."""

from __future__ import annotations

import os

import click

from audit_engine.cli.context import AppContext, emit, progress_enabled
from audit_engine.io.load import DEFAULT_CHUNK_ROWS, REFERENCE, REGISTER, LoadSummary, load_file

EXAMPLES = """\b
Examples:
  census-audit --operator li.qc load census out/census/persons.csv
  census-audit --operator li.qc load census households.xlsx --kind households
  census-audit --operator li.qc load pes pes_persons.csv --encoding gbk --json
  census-audit --operator li.qc load census /data/32/*/persons.csv --engine spark --lake /shared/lake
"""


@click.group(epilog=EXAMPLES)
def load() -> None:
    """Load files into the store (CSV UTF-8/GB18030, .xlsx, Parquet), quarantining bad rows.

    Loading the same file twice adds nothing; an interrupted load resumes where it stopped.
    Census and PES files can go into the lake with Spark instead (--engine spark --lake DIR;
    docs/scale.md).
    """


def _options(f):
    f = click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")(f)
    f = click.option("--chunk-size", default=DEFAULT_CHUNK_ROWS, show_default=True, type=click.IntRange(1),
                     help="Rows per transaction (memory is bounded by it).")(f)
    f = click.option("--encoding", help="CSV encoding (utf-8, gbk, gb18030); detected when omitted.")(f)
    return f


def _run(app: AppContext, path: str, source: str, kind: str | None, encoding: str | None,
         chunk_size: int, as_json: bool) -> LoadSummary:
    engine = app.engine_for("run")
    operator = app.operator
    bar = None
    if progress_enabled(as_json):
        from tqdm import tqdm

        bar = tqdm(total=os.path.getsize(path), unit="B", unit_scale=True, desc=f"load {os.path.basename(path)}",
                   file=click.get_text_stream("stderr"))
    rows = 0

    def progress(chunk) -> None:
        nonlocal rows
        rows += chunk.n_rows
        if bar is not None:
            bar.n = min(chunk.end_position, bar.total) if path.lower().endswith((".csv", ".txt", ".tsv")) else bar.n
            bar.set_postfix(rows=rows)
            bar.refresh()

    try:
        summary = load_file(engine, path, source, operator=operator, kind=kind, encoding=encoding,
                            chunk_rows=chunk_size, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    emit(summary.to_dict(), as_json, _text(summary))
    return summary


def _text(s: LoadSummary) -> str:
    if s.status == "already loaded":
        return f"{s.file_name}: already loaded (sha256 {s.sha256[:16]}…), nothing added"
    lines = [f"{s.file_name} ({s.kind}, {s.source}, {s.file_format}{', ' + s.encoding if s.encoding else ''}): "
             f"{s.status}: {s.rows_loaded:,} loaded, {s.rows_quarantined:,} quarantined of {s.rows_read:,} rows "
             f"in {s.seconds:.1f} s"]
    for reason, n in s.by_reason.items():
        lines.append(f"  quarantined {n:>8,}  {reason}")
    for ex in s.examples[:5]:
        lines.append(f"  e.g. {ex['detail']}")
    return "\n".join(lines)


def _run_spark(app: AppContext, paths: tuple[str, ...], source: str, kind: str | None, encoding: str | None,
               chunk_size: int, master: str | None, lake, as_json: bool) -> list[LoadSummary]:
    from audit_engine.cli.engine import spark_for
    from audit_engine.spark.load import load_to_lake

    engine = app.engine_for("run")
    spark = spark_for("spark", master, lake, must_exist=False)
    summaries = load_to_lake(engine, spark, [str(p) for p in paths], source, lake, operator=app.operator, kind=kind,
                             encoding=encoding, chunk_rows=chunk_size)
    if as_json:
        emit({"files": [s.to_dict() for s in summaries], "lake": str(lake)}, True, "")
    else:
        click.echo("\n".join(_text(s) for s in summaries) + f"\n(lake {lake})")
    return summaries


def _command(source: str, kinds: tuple[str, ...], help_text: str):
    sourced = source not in (REFERENCE, REGISTER)

    @click.command(name=source if source != REFERENCE else kinds[0], help=help_text, epilog=EXAMPLES)
    @click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
    @click.option("--kind", type=click.Choice(kinds), help="File kind; detected from the header when omitted.")
    @_options
    @click.pass_obj
    def command(app: AppContext, paths: tuple[str, ...], kind: str | None, encoding: str | None, chunk_size: int,
                as_json: bool, engine_name: str = "local", spark_master: str | None = None, lake=None):
        kind = kind or (kinds[0] if len(kinds) == 1 else None)
        if engine_name == "spark":
            _run_spark(app, paths, source, kind, encoding, chunk_size, spark_master, lake, as_json)
            return
        for path in paths:
            _run(app, path, source if source != REFERENCE else REFERENCE, kind, encoding, chunk_size, as_json)

    if sourced:
        from audit_engine.cli.engine import engine_options

        command = engine_options(command)
    return command


load.add_command(_command("census", ("persons", "households", "deaths"),
                          "Load census records: a persons, households or deaths file."))
load.add_command(_command("pes", ("persons", "households", "deaths"),
                          "Load post-enumeration survey records: a persons, households or deaths file."))
load.add_command(_command(REFERENCE, ("areas",), "Load the enumeration areas (普查小区) frame."))
load.add_command(_command(REFERENCE, ("enumerators",), "Load enumerators and their assigned areas."))
load.add_command(_command(REFERENCE, ("listing",), "Load the pre-enumeration listing (摸底): one row per listed household."))
load.add_command(_command(REGISTER, ("register",),
                          "Load a household-registration extract (户籍, from public security): one row per person."))
