"""``census-audit synth``: write a synthetic county with ground truth."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from audit_engine.cli.context import emit, progress_enabled


@click.command(epilog="\b\nExamples:\n  census-audit synth --persons 20000 --seed 7 --out county\n"
                      "  census-audit synth --persons 1000000 --seed 1 --out big --config rates.yaml --json")
@click.option("--persons", default=20_000, show_default=True, type=click.IntRange(100), help="True population size.")
@click.option("--seed", default=2020, show_default=True, type=int, help="Random seed: same seed, byte-identical files.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="YAML of generator settings and error rates (see docs/synthetic-data.md).")
@click.option("--json", "as_json", is_flag=True)
def synth(persons: int, seed: int, out: str, config_path: str | None, as_json: bool) -> None:
    """Write a realistic synthetic county: census, PES, reference files and ground truth."""
    manifest = run_synth(persons, seed, Path(out), config_path, show_progress=progress_enabled(as_json))
    counts = manifest.get("counts", {})
    text = [f"synthetic county written to {out} (seed {seed})"]
    text += [f"  {k}: {v:,}" if isinstance(v, int) else f"  {k}: {v}" for k, v in sorted(counts.items())]
    emit({"out": str(out), "seed": seed, "counts": counts, "files": manifest.get("files", {})}, as_json, "\n".join(text))


def run_synth(persons: int, seed: int, out: Path, config_path: str | None = None, show_progress: bool = False) -> dict:
    from audit_engine.synth import SynthConfig, generate

    config = SynthConfig.from_yaml(config_path) if config_path else SynthConfig()
    config = dataclasses.replace(config, persons=persons, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    progress = None
    if show_progress:
        def progress(step: str, done: int, total: int) -> None:
            click.echo(f"\r  synth {step}: {done:,}/{total:,}", nl=False, err=True)
    manifest = generate(config, out, progress=progress)
    if show_progress:
        click.echo("", err=True)
    return manifest if isinstance(manifest, dict) else json.loads((out / "manifest.json").read_text("utf-8"))
