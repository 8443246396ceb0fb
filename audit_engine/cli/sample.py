"""``census-audit sample``: draw a sealed PES sample, verify it, size it."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, UserError, emit, examples


@click.group(invoke_without_command=True,
             epilog=examples("census-audit --operator sup.wang sample --seed 20201115",
                             "census-audit --operator sup.wang sample --design my_pes.yaml --seed 7 --json",
                             "census-audit --operator auditor sample verify",
                             "census-audit sample size --rate 0.015 --moe 0.005 --deff 2 --persons-per-ea 260"))
@click.option("--design", "design_path", type=click.Path(exists=True, dir_okay=False),
              help="Design YAML (default: the bundled sampling/pes_county.yaml).")
@click.option("--seed", type=int, help="Random seed; with the design and frame it fixes the sample.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sample(ctx: click.Context, design_path: str | None, seed: int | None, as_json: bool) -> None:
    """Draw a PES sample of enumeration areas and seal it (design, frame, seed, selection hashes)."""
    if ctx.invoked_subcommand is not None:
        return
    if seed is None:
        raise UserError("sample: --seed is required to draw (it seals the draw; choose it in public, e.g. a lottery)")
    from sampling.design import DesignError, load_design
    from sampling.draw import draw
    from sampling.store import read_frame, save_sample

    app: AppContext = ctx.obj
    engine = app.engine_for("run")
    operator = app.operator
    try:
        design = load_design(design_path)
        drawn = draw(design, read_frame(engine, design), seed)
    except DesignError as exc:
        raise UserError(str(exc)) from exc
    sid = save_sample(engine, design, seed, drawn, operator)
    u = drawn.units
    data = {"sample_id": sid, "design": design.name, "design_hash": design.content_hash, "frame_hash": drawn.frame_hash,
            "seed": seed, "selection_hash": drawn.selection_hash, "units": len(u),
            "strata": drawn.strata.to_dict("records"), "psus": int(drawn.total),
            "sum_of_weights": float(u["weight"].sum()), "replicates": int(drawn.replicate_weights.shape[1])}
    lines = [f"sample {sid} ({design.name}, seed {seed}): {len(u)} enumeration areas in "
             f"{int((drawn.strata['n_h'] > 0).sum())} strata; weights sum to {u['weight'].sum():,.1f} EAs "
             f"(frame {int(drawn.strata['N_h'].sum()):,})",
             f"  sealed: design {design.content_hash[:16]}…  frame {drawn.frame_hash[:16]}…  "
             f"selection {drawn.selection_hash[:16]}…",
             f"  {'stratum':<24} {'N_h':>5} {'n_h':>4}"]
    lines += [f"  {r.stratum:<24} {r.N_h:>5} {r.n_h:>4}" for r in drawn.strata.itertuples(index=False)]
    emit(data, as_json, "\n".join(lines))


@sample.command(epilog=examples("census-audit --operator auditor sample verify",
                                "census-audit --operator auditor sample verify --id 3 --json"))
@click.option("--id", "sample_id", type=int, help="Sample to verify (default: the newest).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def verify(app: AppContext, sample_id: int | None, as_json: bool) -> None:
    """Redraw from the sealed design, frame and seed; exit 1 unless the stored sample is exactly that."""
    from sampling.design import DesignError
    from sampling.store import verify_sample

    try:
        v = verify_sample(app.engine_for("aggregate"), app.operator, sample_id)
    except DesignError as exc:
        raise UserError(str(exc)) from exc
    emit({"ok": v.ok, "sample_id": v.sample_id, "checks": v.checks, "message": v.message}, as_json,
         v.message + "\n" + "\n".join(f"  {k:<18} {'ok' if ok else 'DIFFERS'}" for k, ok in v.checks.items()))
    if not v.ok:
        raise SystemExit(1)


@sample.command(epilog=examples("census-audit sample size --rate 0.015 --moe 0.005 --deff 2 --persons-per-ea 260",
                                "census-audit sample size --rate 0.02 --moe 0.004 --population-eas 740 --json"))
@click.option("--rate", type=float, required=True, help="Expected omission rate, e.g. 0.015.")
@click.option("--moe", type=float, required=True, help="Target margin of error (95%), e.g. 0.005.")
@click.option("--deff", type=float, default=2.0, show_default=True, help="Design effect of the EA cluster sample.")
@click.option("--persons-per-ea", type=float, default=260.0, show_default=True)
@click.option("--population-eas", type=int, help="EAs in the frame (finite population correction).")
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.option("--nonresponse", type=float, default=0.0, show_default=True, help="Expected share of EAs lost.")
@click.option("--json", "as_json", is_flag=True)
def size(rate: float, moe: float, deff: float, persons_per_ea: float, population_eas: int | None,
         confidence: float, nonresponse: float, as_json: bool) -> None:
    """How many enumeration areas the PES needs for a target margin of error."""
    from sampling.size import eas_needed

    try:
        n = eas_needed(rate, moe, deff=deff, mean_persons_per_ea=persons_per_ea, confidence=confidence,
                       population_eas=population_eas, nonresponse=nonresponse)
    except ValueError as exc:
        raise UserError(f"sample size: {exc}") from exc
    emit({"eas": n, "rate": rate, "moe": moe, "deff": deff, "persons_per_ea": persons_per_ea,
          "population_eas": population_eas, "confidence": confidence, "nonresponse": nonresponse}, as_json,
         f"{n} enumeration areas for an omission rate near {rate:.2%} with a margin of ±{moe:.2%} (95%), "
         f"design effect {deff}, {persons_per_ea:.0f} persons per EA"
         + (f", {population_eas} EAs in the frame" if population_eas else ""))
