"""Shared by the benchmarks: a synthetic county to measure on, and this process's peak memory."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def county(persons: int, seed: int = 1, data: Path | None = None) -> Iterator[Path]:
    """An existing synth folder (``data``), or a fresh county generated into a temporary one."""
    if data is not None:
        yield data
        return
    from audit_engine.synth import SynthConfig, generate

    with tempfile.TemporaryDirectory(prefix="census-audit-bench-") as tmp:
        generate(SynthConfig(persons=persons, seed=seed), Path(tmp))
        yield Path(tmp)


def status_kb(pid: int | str, field: str) -> int:
    """A field of /proc/PID/status in kB (VmHWM: the peak resident set of the current image;
    ru_maxrss would report the parent's peak, being inherited across fork/exec)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_mb() -> float:
    return status_kb("self", "VmHWM") / 1024


def splink_skipped(no_splink: bool) -> str | None:
    """Why Splink is left out of a benchmark run (``--no-splink``, or not installed), or None."""
    if no_splink:
        return "--no-splink"
    try:
        import splink  # noqa: F401
    except ImportError:
        return "splink is not installed: pip install -c requirements/constraints.txt '.[bench]'"
    return None
