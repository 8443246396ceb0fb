"""``link register`` on a synthetic county: time per step, accuracy per class and of the linkage.

    .venv/bin/python benchmarks/bench_register.py [--persons 200000] [--seed 2020] [--data DIR] [--keep DIR]

1. generates a county of ``--persons`` (``census-audit synth``'s generator, register included),
   or reads ``--data DIR`` (a folder the generator wrote);
2. loads the areas, census households / persons / deaths and ``register/register.csv`` into a
   temporary SQLite store;
3. runs :func:`~audit_engine.register.run.run_link_register` (the ``link register`` verb);
4. scores against the truth: per class, recall and precision of the stored classes against
   ``truth/register_classes.csv`` (record C = census person_id, R = register_id), over both
   sides' records; and the census ↔ register pairs against ``truth/records.csv`` (census
   person_id → true person) and ``truth/register.csv`` (register_id → true person): a census
   record *should* link when its true person has a register record; a link is right when both
   records are that person.

Seconds are wall-clock on whatever machine runs it; no step sees the truth.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
from sqlalchemy import select  # noqa: E402

from audit_engine.io.load import load_file  # noqa: E402
from audit_engine.register.classify import CLASSES  # noqa: E402
from audit_engine.register.run import run_link_register  # noqa: E402
from audit_engine.store import make_engine  # noqa: E402
from audit_engine.store.migrate import upgrade  # noqa: E402
from audit_engine.store.models import LinkPair, RegisterStatus  # noqa: E402

FILES = (("areas.csv", "reference", "areas"), ("census/households.csv", "census", "households"),
         ("census/persons.csv", "census", "persons"), ("census/deaths.csv", "census", "deaths"),
         ("register/register.csv", "register", "register"))


def class_scores(got: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per class: expected, got, right, recall, precision (records of both sides)."""
    m = truth.merge(got, on=["record", "key"], how="outer")
    rows = []
    for c in CLASSES:
        exp, hit = m["expected"] == c, m["cls"] == c
        right = int((exp & hit).sum())
        rows.append({"class": c, "expected": int(exp.sum()), "got": int(hit.sum()), "right": right,
                     "recall": right / exp.sum() if exp.sum() else float("nan"),
                     "precision": right / hit.sum() if hit.sum() else float("nan")})
    return pd.DataFrame(rows)


def link_scores(pairs: pd.DataFrame, folder: Path) -> dict:
    """Precision / recall of the census ↔ register links against the true persons."""
    rec = pd.read_csv(folder / "truth" / "records.csv", dtype=str, keep_default_na=False)
    rec = rec[rec["source"] == "census"]
    c2t = dict(zip(rec["person_id"], rec["true_person_id"], strict=True))
    reg = pd.read_csv(folder / "truth" / "register.csv", dtype=str, keep_default_na=False)
    r2t = dict(zip(reg["register_id"], reg["true_person_id"], strict=True))
    registered = {t for t in r2t.values() if t}
    good = [bool(c2t.get(c)) and c2t.get(c) == r2t.get(r) for c, r in zip(pairs["left_key"], pairs["right_key"],
                                                                          strict=True)]
    tp = sum(good)
    should = sum(1 for t in c2t.values() if t and t in registered)
    by_status = {s: {"pairs": int((pairs["status"] == s).sum()),
                     "false": int(((pairs["status"] == s) & ~pd.Series(good, index=pairs.index)).sum())}
                 for s in ("match", "possible", "shared")}
    return {"links": len(pairs), "true_links": tp, "false_links": len(pairs) - tp, "should_link": should,
            "precision": tp / len(pairs) if len(pairs) else float("nan"),
            "recall": tp / should if should else float("nan"), "by_status": by_status}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--data", type=Path, help="a county the generator wrote (skips generation)")
    ap.add_argument("--keep", type=Path, help="write the county here and keep it")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data
        if folder is None:
            from audit_engine.synth import SynthConfig, generate

            folder = args.keep or Path(tmp) / "county"
            t = time.perf_counter()
            generate(SynthConfig(persons=args.persons, seed=args.seed), folder)
            seconds["generate"] = time.perf_counter() - t
        if not (folder / "register" / "register.csv").exists():
            sys.exit(f"{folder}: no register/register.csv (a generator without the register?)")
        engine = make_engine(f"sqlite:///{Path(tmp) / 'store.db'}")
        upgrade(engine)
        t = time.perf_counter()
        for rel, source, kind in FILES:
            load_file(engine, folder / rel, source, operator="bench", kind=kind)
        seconds["load"] = time.perf_counter() - t
        t = time.perf_counter()
        s = run_link_register(engine, "bench", progress=lambda m: print(f"  link register: {m}", file=sys.stderr))
        seconds["link register"] = time.perf_counter() - t
        with engine.connect() as conn:
            got = pd.read_sql(select(RegisterStatus.record, RegisterStatus.record_key.label("key"), RegisterStatus.cls)
                              .where(RegisterStatus.run_id == s.run_id), conn)
            pairs = pd.read_sql(select(LinkPair.left_key, LinkPair.right_key, LinkPair.status)
                                .where(LinkPair.run_id == s.run_id), conn)
        engine.dispose()
        truth = pd.read_csv(folder / "truth" / "register_classes.csv", dtype=str, keep_default_na=False)
        scores = class_scores(got, truth)
        links = link_scores(pairs, folder)
    out = {"persons": args.persons if args.data is None else None, "census_persons": s.census_persons,
           "register_persons": s.register_persons, "candidates": s.candidates,
           "seconds": {k: round(v, 2) for k, v in seconds.items()}, "run_steps": s.steps,
           "threshold_posterior": s.upper["posterior_min"], "possible_posterior": s.lower["posterior_min"],
           "matches": s.matches, "possible": s.possible, "shared": s.shared, "review_items": s.review_items,
           "classes": scores.to_dict("records"), "linkage": links}
    if args.json:
        print(json.dumps(out, indent=2, default=float))
        return out
    print(f"county: {s.census_persons:,} census persons, {s.register_persons:,} register persons, "
          f"{s.candidates:,} candidate pairs")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in out["seconds"].items())
          + "  (link register: " + ", ".join(f"{k} {v:.1f}" for k, v in s.steps.items()) + ")")
    print(f"links: {s.matches:,} matches (posterior ≥ {s.upper['posterior_min']:.4f}), {s.possible:,} possible, "
          f"{s.shared:,} shared; review items {s.review_items:,}")
    print(f"linkage: precision {links['precision']:.4f}, recall {links['recall']:.4f} "
          f"({links['true_links']:,} true of {links['links']:,} links; {links['should_link']:,} census records "
          f"whose person has a register record); false by status {json.dumps(links['by_status'])}")
    print(scores.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return out


if __name__ == "__main__":
    main()
