"""Designs, allocation, the seeded draw, and sealing: verify proves a sample was drawn as declared."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from audit_engine.cli.main import cli
from audit_engine.io.load import load_file
from sampling.allocate import allocate, largest_remainder
from sampling.design import DesignError, load_design, parse_design
from sampling.draw import draw, prepare_frame
from sampling.store import load_sample, read_frame, save_sample, verify_sample


# ------------------------------------------------------------------------- allocation
def test_largest_remainder_keeps_the_total():
    assert list(largest_remainder(np.array([1, 1, 1]), 10)) == [4, 3, 3]
    assert list(largest_remainder(np.array([0.5, 0.3, 0.2]), 7)) == [4, 2, 1]   # 3.5 2.1 1.4 -> 3 2 1 + 1 to the .5


def test_proportional_allocation_with_minimum_and_caps():
    units = np.array([10, 3, 50, 1])
    size = np.array([1000.0, 300, 5000, 80])
    n = allocate("proportional", 20, units, size, minimum=2)
    assert n.sum() == 20 and (n >= np.minimum(units, 2)).all() and (n <= units).all()
    assert list(n) == [3, 2, 14, 1]          # 3.15 .95 15.8 .25 -> min 2 / cap 1 -> surplus taken from the largest
    assert list(allocate("equal", 8, np.array([5, 5, 5, 5]), size)) == [2, 2, 2, 2]
    ney = allocate("neyman", 12, np.array([100, 100, 100]), size[:3], prior_sd=np.array([1.0, 2.0, 3.0]))
    assert list(ney) == [2, 4, 6]
    with pytest.raises(ValueError, match="cannot give 2 units to each of 4 strata"):
        allocate("proportional", 5, units, size, minimum=2)


# ------------------------------------------------------------------------- design files
@pytest.mark.parametrize("patch, message", [
    ({"strata": ["nonsense"]}, "'nonsense' is not a frame column"),
    ({"stages": [{"unit": "ea_code", "method": "lottery"}]}, "method must be one of"),
    ({"stages": [{"unit": "township_code", "method": "pps_systematic"}, {"unit": "ea_code", "method": "srswor"}]},
     "stage 2 needs per_psu"),
    ({"allocation": {"method": "proportional", "total": -3}}, "positive whole number"),
    ({"allocation": {"method": "proportional", "total": {"moe": 0.01}}}, "calculator needs"),
    ({"surprise": 1}, "unknown key"),
])
def test_bad_designs_are_refused(patch, message):
    import yaml

    from sampling.design import bundled_path

    doc = yaml.safe_load(bundled_path().read_text("utf-8"))
    doc.update(patch)
    with pytest.raises(DesignError, match=message):
        parse_design(doc, "x.yaml")


def test_bundled_design_hash_is_about_meaning(tmp_path):
    from sampling.design import bundled_path

    d = load_design()
    copy = tmp_path / "d.yaml"
    copy.write_text("# comment\n" + bundled_path().read_text("utf-8"), encoding="utf-8")
    assert load_design(copy).content_hash == d.content_hash
    copy.write_text(bundled_path().read_text("utf-8").replace("moe: 0.005", "moe: 0.004"), encoding="utf-8")
    assert load_design(copy).content_hash != d.content_hash


# ------------------------------------------------------------------------- the draw
def test_draw_is_reproducible_and_unbiased_for_the_size_total(frame30k):
    d = load_design()
    a, b, c = draw(d, frame30k, 11), draw(d, frame30k, 11), draw(d, frame30k, 12)
    assert a.selection_hash == b.selection_hash and a.units.equals(b.units)
    assert a.selection_hash != c.selection_hash
    u = a.units
    assert u["unit"].is_unique and (u["pi"] > 0).all() and (u["pi"] <= 1).all()
    assert np.allclose(u["weight"] * u["pi"], 1)
    # every stratum has its allocation, at least 2 (small strata are collapsed)
    per = u.groupby("stratum").size()
    alloc = a.strata.set_index("stratum")["n_h"]
    assert (per == alloc[alloc > 0]).all() and (per >= 2).all()
    assert int(a.strata["n_h"].sum()) == a.total
    # PPS on the size measure: the HT estimate of the size total is exact in strata without certainty units
    f = prepare_frame(frame30k, d)
    size = f.set_index("ea_code")["persons_listed"].astype(float)
    for stratum, g in u.groupby("stratum"):
        if g["certainty"].any():
            continue
        est = (g["weight"] * size.loc[g["unit"]].to_numpy()).sum()
        true = size[f.set_index("ea_code")["stratum"] == stratum].sum()
        assert est == pytest.approx(true, rel=1e-9), stratum
    # JKn: one replicate per PSU; the deleted PSU gets weight 0
    assert a.replicate_weights.shape == (len(u), len(u))
    assert (np.diag(a.replicate_weights) == 0).all()


def test_two_stage_design(frame30k):
    doc = {"design": "two_stage", "frame": {"source": "store", "unit": "ea_code", "size": "persons_listed"},
           "strata": ["county_code"], "sort": ["ea_code"],
           "stages": [{"unit": "township_code", "method": "pps_sampford"},
                      {"unit": "ea_code", "method": "srswor", "per_psu": 3}],
           "allocation": {"method": "proportional", "total": 4, "min_per_stratum": 2}}
    d = parse_design(doc)
    s = draw(d, frame30k, 5)
    u = s.units
    assert u["psu"].nunique() == 4 and (u.groupby("psu").size() == 3).all()
    eas_in = frame30k.groupby("township_code").size()
    expect = u["stage1_pi"] * 3 / eas_in.loc[u["psu"]].to_numpy()
    assert np.allclose(u["pi"], expect)
    # replicates are by PSU (township): 4 replicates, all EAs of a deleted township at 0
    assert s.replicate_weights.shape == (12, 4)
    assert ((s.replicate_weights == 0).sum(axis=0) == 3).all()


# ------------------------------------------------------------------------- sealing
def test_sealed_sample_verifies_and_tampering_is_caught(engine, county30k):
    load_file(engine, county30k / "areas.csv", "reference", operator="t")
    d = load_design()
    drawn = draw(d, read_frame(engine, d), 20201115)
    sid = save_sample(engine, d, 20201115, drawn, "sup.wang")
    stored = load_sample(engine, sid)
    assert stored.selection_hash == drawn.selection_hash and len(stored.units) == len(drawn.units)
    assert np.allclose(stored.replicate_weights, drawn.replicate_weights)
    v = verify_sample(engine, "auditor", sid)
    assert v.ok and all(v.checks.values())
    # a hand-picked swap in the stored sample
    unit = stored.units["unit"].iloc[0]
    with engine.begin() as c:
        other = c.execute(text("select code from enumeration_areas where code not in "
                               "(select unit_code from sample_units) limit 1")).scalar_one()
        c.execute(text("update sample_units set unit_code = :o where unit_code = :u"), {"o": other, "u": unit})
    v = verify_sample(engine, "auditor", sid)
    assert not v.ok and v.checks["stored units"] is False and v.checks["redraw"] is True
    with engine.begin() as c:
        c.execute(text("update sample_units set unit_code = :u where unit_code = :o"), {"o": other, "u": unit})
        c.execute(text("update enumeration_areas set persons_listed = persons_listed + 50 where code = :u"), {"u": unit})
    v = verify_sample(engine, "auditor", sid)
    assert not v.ok and v.checks["frame"] is False
    with engine.connect() as c:
        cmds = [r[0] for r in c.execute(text("select command from ledger order by seq"))]
        entry = json.loads(c.execute(text("select inputs from ledger where command = 'sample'")).scalar_one())
    assert cmds.count("sample verify") == 3 and entry == {"design": d.content_hash, "frame": drawn.frame_hash}


def test_sample_cli(tmp_path, county30k):
    db = f"sqlite:///{tmp_path / 's.db'}"
    run = CliRunner().invoke
    assert run(cli, ["--db", db, "--operator", "a", "init"]).exit_code == 0
    r = run(cli, ["--db", db, "--operator", "sup", "sample", "--seed", "3"])
    assert r.exit_code == 2 and "load areas" in r.output
    run(cli, ["--db", db, "--operator", "a", "load", "areas", str(county30k / "areas.csv")])
    assert run(cli, ["--db", db, "--operator", "sup", "sample"]).exit_code == 2          # no seed: refused
    r = run(cli, ["--db", db, "--operator", "sup", "sample", "--seed", "3", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["units"] >= 2 * len([s for s in data["strata"] if s["n_h"] > 0]) and data["replicates"] == data["units"]
    r = run(cli, ["--db", db, "--operator", "auditor", "sample", "verify", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["ok"] is True
    r = run(cli, ["sample", "size", "--rate", "0.015", "--moe", "0.005", "--deff", "2", "--persons-per-ea", "260", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["eas"] == 18      # hand-worked in test_sample_size
