"""``--engine local|spark``, ``--spark-master`` and ``--lake``: the options of the commands that
can run on Spark (load, check, link duplicates), and of those that read the lake (link pes,
estimate).

``local`` (the default) runs in this process over the store, chunk by chunk, as always.
``spark`` runs the same rules and comparators on Spark over the lake (docs/scale.md): the
census tables as Parquet partitioned by province and county; ``--spark-master`` is where
(``local[*]`` on one machine; under ``spark-submit`` the master it was given).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from audit_engine.cli.context import UserError

LAKE_ENV = "CENSUS_AUDIT_LAKE"
MASTER_ENV = "CENSUS_AUDIT_SPARK_MASTER"


def lake_option(required_for_spark: bool = True) -> Callable:
    help_text = (f"Lake folder: census tables as Parquet partitioned by province/county (or ${LAKE_ENV}). "
                 + ("Required with --engine spark." if required_for_spark else
                    "Read census persons from it instead of the store."))
    return click.option("--lake", type=click.Path(file_okay=False, path_type=Path), envvar=LAKE_ENV,
                        help=help_text)


def engine_options(f: Callable) -> Callable:
    """Add ``--engine``, ``--spark-master`` and ``--lake`` to a command."""
    f = lake_option()(f)
    f = click.option("--spark-master", envvar=MASTER_ENV, default=None, metavar="URL",
                     help=f"Spark master with --engine spark (default local[*]; or ${MASTER_ENV}; "
                          "under spark-submit, the master it was given).")(f)
    f = click.option("--engine", "engine_name", type=click.Choice(["local", "spark"]), default="local",
                     show_default=True, help="Run in this process over the store, or on Spark over the lake.")(f)
    return f


def spark_for(engine_name: str, master: str | None, lake: Path | None, *, must_exist: bool = True):
    """The Spark session for ``--engine spark`` (None for local), with the errors a user can fix."""
    if engine_name != "spark":
        return None
    if lake is None:
        raise UserError(f"--engine spark needs --lake DIR (or ${LAKE_ENV}): where the census tables are as Parquet")
    if must_exist and not lake.is_dir():
        raise UserError(f"--lake {lake}: no such folder (load files into it with "
                        "census-audit load census FILE... --engine spark --lake DIR)")
    from audit_engine.spark.session import SparkUnavailable, spark_session

    try:
        return spark_session(master)
    except SparkUnavailable as exc:
        raise UserError(str(exc)) from exc
