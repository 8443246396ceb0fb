"""One SparkSession, configured for the engine's jobs, with a clear error when Spark cannot start.

Why the settings: Arrow moves pandas batches between the JVM and the Python workers
(``mapInPandas`` is unusable without it); the workers must run this interpreter, or they miss
the project's packages (PySpark otherwise starts ``python3`` from PATH); shuffle partitions
default to a few per core in local mode (Spark's 200 are for clusters and cost seconds of
scheduling on a laptop); the UI is off unless asked for (a port per test run otherwise).
On a cluster ``spark-submit`` sets master and memory, and this only adds what the engine needs.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping

__all__ = ["SparkUnavailable", "spark_session", "stop"]

DEFAULT_MASTER = "local[*]"


class SparkUnavailable(RuntimeError):
    """PySpark is not installed or Java cannot be found: the message says which and what to do."""


def _local_cores(master: str) -> int:
    inside = master[len("local["):-1] if master.startswith("local[") else "1"
    if inside in ("*", ""):
        return os.cpu_count() or 2
    return max(int(inside.split(",")[0]), 1)


def spark_session(master: str | None = None, *, app_name: str = "census-audit",
                  conf: Mapping[str, str] | None = None):
    """The active SparkSession (created on first use) for ``master`` (``local[*]`` by default;
    under ``spark-submit``, with no ``master`` given, the submitted one).

    ``CENSUS_AUDIT_SPARK_CONF`` may add ``key=value`` pairs separated by ``;`` (e.g. driver memory
    for a benchmark); ``conf`` overrides both.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SparkUnavailable("--engine spark needs PySpark: pip install 'census-audit[spark]' "
                               "(and Java 17: apt-get install openjdk-17-jre-headless)") from exc
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise SparkUnavailable("--engine spark needs Java 17 (java not on PATH and JAVA_HOME not set)")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark import SparkConf

    # Under spark-submit the master, deploy mode and memory are the submitter's: keep them.
    submitted = master is None and SparkConf().contains("spark.master")
    master = master or DEFAULT_MASTER
    settings = {
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.compression.codec": "zstd",
    }
    if not submitted:
        settings["spark.driver.memory"] = "4g"
    if not submitted and master.startswith("local"):
        settings["spark.sql.shuffle.partitions"] = str(4 * _local_cores(master))
        settings["spark.default.parallelism"] = str(4 * _local_cores(master))
    for item in filter(None, (os.environ.get("CENSUS_AUDIT_SPARK_CONF") or "").split(";")):
        key, _, value = item.partition("=")
        settings[key.strip()] = value.strip()
    settings.update(conf or {})
    builder = SparkSession.builder.appName(app_name)
    if not submitted:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM failing to start surfaces as many types
        raise SparkUnavailable(f"Spark could not start on master {master!r}: {type(exc).__name__}: {exc}") from exc
    spark.sparkContext.setLogLevel("WARN")
    return spark


def stop() -> None:
    """Stop the active session, if any (the CLI does this when a command ends)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover
        return
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
