"""Pre-enumeration listing (摸底) vs. enumeration: the tolerance by hand, the reconciliation on a
tiny table worked by hand, and on a synthetic county whose planted census errors are known.

The county (15,000 persons, seed 6) has more and worse bad enumerators than the default
(``bad_enumerator_share`` 0.1, ``bad_enumerator_factor`` 10) and fewer duplicates (0.002), so
that a badly worked EA's omissions are not hidden by duplicates in the net count, which is all
a listing comparison can see. Its planted net gaps (census persons − true persons) are then
two groups: the bad enumerators' EAs at −18 persons or beyond (7 EAs, every one beyond the
default tolerance of 5 % and 8 persons), and every other EA within the tolerance. The listing's
own errors (a household moved out or missed, a count off by one) move an EA's gap by at most a
household or two (|listed − true| ≤ 8 here), not enough to carry an EA across: the unflagged
EAs' observed gaps stay within ±11 persons, the planted ones beyond −18.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import load_county

from audit_engine.access.operators import add_operator
from audit_engine.cli.main import cli
from audit_engine.io.columns import header_names
from audit_engine.ledger import history, verify
from audit_engine.listing import Tolerance, latest_reconciliation, reconcile, run_reconcile
from audit_engine.listing.store import NoListing
from audit_engine.review.items import open_items
from audit_engine.review.queue import decide_item, list_items
from audit_engine.store import make_engine
from audit_engine.synth import CaptureRates, SynthConfig, generate

# ---------------------------------------------------------------- tolerance and reconcile (pure)


@pytest.mark.parametrize(("listed", "gap", "flag"), [
    (200, -10, ""), (200, -11, "shortfall"), (200, 10, ""), (200, 11, "surplus"),   # 5 % of 200 = 10, exactly
    (100, -7, ""), (100, -8, "shortfall"), (100, 8, "surplus"),                     # the 8-person floor rules
    (160, 8, ""), (160, 9, "surplus"), (160, -9, "shortfall"),                      # 5 % of 160 = 8 = the floor
    (0, 7, ""), (0, 8, "surplus"),                                                  # nobody listed: floor only
    (300, 0, ""), (300, -15, ""), (300, -16, "shortfall"),
])
def test_tolerance_boundaries(listed, gap, flag):
    tol = Tolerance()
    assert tol.flag([listed], [gap])[0] == flag
    # the limit is the smallest |gap| flagged
    limit = int(tol.limit([listed])[0])
    assert tol.flag([listed], [-limit])[0] == "shortfall" and tol.flag([listed], [limit - 1])[0] == ""


def test_tolerance_options_and_validation():
    tol = Tolerance(relative=0.02, min_persons=3)
    assert list(tol.flag([100, 100, 100, 500], [-2, -3, 3, -10])) == ["", "shortfall", "surplus", ""]
    assert list(tol.limit([100, 500, 0])) == [3, 11, 3]
    with pytest.raises(ValueError, match="relative"):
        Tolerance(relative=1.5)
    with pytest.raises(ValueError, match="min_persons"):
        Tolerance(min_persons=0)


T1, T2 = "320831001", "320831002"
EA1, EA2, EA3, EA4, EA5 = T1 + "001001", T1 + "001002", T2 + "001001", T2 + "001002", T2 + "001003"


def _listing(ea: str, households: int, persons_each: int, enumerator: str) -> pd.DataFrame:
    return pd.DataFrame({"ea_code": ea, "persons_listed": persons_each, "enumerator_id": enumerator},
                        index=range(households))


def _tiny():
    listing = pd.concat([_listing(EA1, 50, 4, "E01"), _listing(EA2, 40, 5, "E01"), _listing(EA3, 25, 4, "E02"),
                         _listing(EA5, 40, 4, "E03")], ignore_index=True)
    enumerated = pd.DataFrame({
        "ea_code": [EA1, EA2, EA3, EA4, EA5], "households": [47, 40, 25, 3, 42], "persons": [189, 210, 92, 7, 169],
        "enumerator_id": ["E01", "E01", "E02", "E02", "E03"]})
    areas = pd.DataFrame({"ea_code": [EA1, EA2, EA3, EA4, EA5], "township_code": [T1, T1, T2, T2, T2]})
    return listing, enumerated, areas


def test_reconcile_by_hand():
    listing, enumerated, areas = _tiny()
    r = reconcile(listing, enumerated, areas)
    e = r.eas.set_index("ea_code")
    # EA1: 200 listed, 189 enumerated: -11 beyond 10 (5 %) -> shortfall; 3 households fewer
    # EA2: 200 listed, 210: +10 is not beyond 10 -> no flag
    # EA3: 100 listed, 92: -8 reaches the 8-person floor and is beyond 5 -> shortfall
    # EA4: not listed, 7 enumerated: below the floor -> no flag, no rate
    # EA5: 160 listed, 169: +9 beyond 8 -> surplus
    assert list(e.index) == [EA1, EA2, EA3, EA4, EA5]
    assert e["households_listed"].tolist() == [50, 40, 25, 0, 40]
    assert e["households_enumerated"].tolist() == [47, 40, 25, 3, 42]
    assert e["households_gap"].tolist() == [-3, 0, 0, 3, 2]
    assert e["persons_listed"].tolist() == [200, 200, 100, 0, 160]
    assert e["persons_enumerated"].tolist() == [189, 210, 92, 7, 169]
    assert e["persons_gap"].tolist() == [-11, 10, -8, 7, 9]
    assert e["gap_rate"].iloc[[0, 1, 2, 4]].tolist() == pytest.approx([-0.055, 0.05, -0.08, 0.05625])
    assert np.isnan(e.at[EA4, "gap_rate"])
    assert e["limit"].tolist() == [11, 11, 8, 8, 9]
    assert e["flag"].tolist() == ["shortfall", "", "shortfall", "", "surplus"]
    assert e["enumerator_id"].tolist() == ["E01", "E01", "E02", "E02", "E03"]
    assert e["township_code"].tolist() == [T1, T1, T2, T2, T2]

    n = r.enumerators.set_index("enumerator_id")
    assert n["eas"].tolist() == [2, 2, 1]
    assert n["persons_listed"].tolist() == [400, 100, 160]
    assert n["persons_enumerated"].tolist() == [399, 99, 169]
    assert n["persons_gap"].tolist() == [-1, -1, 9]
    assert n["flagged_eas"].tolist() == [1, 1, 1]
    assert n["flag"].tolist() == ["", "", "surplus"]          # E01's -11 and +10 cancel out

    t = r.townships.set_index("township_code")
    assert t["eas"].tolist() == [2, 3]
    assert t["persons_gap"].tolist() == [-1, 8]
    assert t["shortfall_eas"].tolist() == [1, 1] and t["surplus_eas"].tolist() == [0, 1]

    # no areas: the township is the EA code's first nine digits; a tighter tolerance flags more
    r2 = reconcile(listing, enumerated, None, Tolerance(relative=0.04, min_persons=5))
    assert r2.eas["township_code"].tolist() == [T1, T1, T2, T2, T2]
    assert r2.eas["flag"].tolist() == ["shortfall", "surplus", "shortfall", "surplus", "surplus"]


# ---------------------------------------------------------------- synthetic county in the store

CONFIG = SynthConfig(persons=15_000, seed=6, census=dataclasses.replace(
    CaptureRates(), bad_enumerator_share=0.1, bad_enumerator_factor=10.0, duplicate=0.002))
#: the surplus EA: its listing loses this many households before loading (a listing that
#: skipped a building), so the census finds more than was listed
DROPPED = 12


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("listing_county")
    generate(CONFIG, out)
    truth = pd.read_csv(out / "truth" / "listing.csv", dtype={"ea_code": str})
    tol = Tolerance()
    truth["planted_flag"] = tol.flag(truth["true_persons"], truth["planted_gap"])
    # the surplus EA: the largest EA whose planted gap is small
    quiet = truth[truth["planted_gap"].abs() <= 2]
    surplus_ea = str(quiet.sort_values(["listed_persons", "ea_code"]).iloc[-1]["ea_code"])
    listing = pd.read_csv(out / "listing.csv", dtype=str, keep_default_na=False)
    drop = listing.index[listing["ea_code"] == surplus_ea][:DROPPED]
    dropped_persons = int(listing.loc[drop, "persons_listed"].astype(int).sum())
    listing.drop(index=drop).to_csv(out / "listing_edited.csv", index=False, lineterminator="\n")
    return {"out": out, "truth": truth, "surplus_ea": surplus_ea, "dropped_persons": dropped_persons}


def _load(engine, out: Path) -> None:
    load_county(engine, out, files=(("areas.csv", "reference", "areas"),
                                    ("census/households.csv", "census", "households"),
                                    ("census/persons.csv", "census", "persons"),
                                    ("listing_edited.csv", "reference", "listing")))


def test_synthetic_listing_file(county):
    out, truth = county["out"], county["truth"]
    listing = pd.read_csv(out / "listing.csv", dtype=str, keep_default_na=False)
    assert list(listing.columns) == header_names("listing")
    assert listing["listing_id"].is_unique
    per_ea = listing.groupby("ea_code").agg(h=("listing_id", "size"), p=("persons_listed", lambda s: s.astype(int).sum()))
    t = truth.set_index("ea_code")
    assert per_ea["h"].reindex(t.index).tolist() == t["listed_households"].tolist()
    assert per_ea["p"].reindex(t.index).tolist() == t["listed_persons"].tolist()
    # listed = true - missed + moved out; persons off by the recorded errors
    assert (t["listed_households"] == t["true_households"] - t["listing_missed"] + t["listing_moved_out"]).all()
    assert (t["planted_gap"] == t["census_persons"] - t["true_persons"]).all()
    areas = pd.read_csv(out / "truth" / "areas.csv", dtype={"ea_code": str}).set_index("ea_code")
    assert (areas["census_records"] == t["census_persons"]).all()
    assert (areas["census_omitted"] == t["census_omitted_persons"]).all()
    # the listing's own error stays small: at most about two households
    assert (t["listed_persons"] - t["true_persons"]).abs().max() <= 10
    enum_of = pd.read_csv(out / "census" / "households.csv", dtype=str).groupby("ea_code")["enumerator_id"].first()
    assert (listing["enumerator_id"] == listing["ea_code"].map(enum_of)).all()


def test_reconcile_finds_the_planted_gaps(engine, county):
    truth, surplus_ea = county["truth"], county["surplus_ea"]
    with pytest.raises(NoListing):
        run_reconcile(engine, "sup.wang")
    _load(engine, county["out"])
    res = run_reconcile(engine, "sup.wang")
    eas = res.result.eas.set_index("ea_code")
    t = truth.set_index("ea_code")
    assert list(eas.index) == list(t.index)

    # the figures are exactly the truth's (the surplus EA lost DROPPED households of its listing)
    listed_h = t["listed_households"].copy()
    listed_p = t["listed_persons"].copy()
    listed_h[surplus_ea] -= DROPPED
    listed_p[surplus_ea] -= county["dropped_persons"]
    assert eas["households_listed"].tolist() == listed_h.tolist()
    assert eas["persons_listed"].tolist() == listed_p.tolist()
    assert eas["households_enumerated"].tolist() == t["census_households"].tolist()
    assert eas["persons_enumerated"].tolist() == t["census_persons"].tolist()

    # flagged: exactly the EAs whose planted census gap is beyond tolerance (all shortfalls),
    # plus the EA whose listing skipped a building (surplus); none whose planted gap is within
    planted = set(t.index[t["planted_flag"] != ""])
    assert len(planted) >= 5 and set(t.loc[list(planted), "planted_flag"]) == {"shortfall"}
    flagged = eas[eas["flag"] != ""]
    assert set(flagged.index) == planted | {surplus_ea}
    assert (flagged.loc[list(planted), "flag"] == "shortfall").all()
    assert flagged.at[surplus_ea, "flag"] == "surplus"
    within = t.index[(t["planted_flag"] == "") & (t.index != surplus_ea)]
    assert (eas.loc[within, "flag"] == "").all()
    # the margin the module docstring describes
    assert eas.loc[within, "persons_gap"].abs().max() < eas.loc[list(planted), "persons_gap"].abs().min()

    # every planted EA belongs to a bad enumerator, and those enumerators are flagged overall
    te = pd.read_csv(county["out"] / "truth" / "enumerators.csv", dtype=str)
    bad = set(te.loc[(te["source"] == "census") & (te["bad"] == "1"), "enumerator_id"])
    assert set(eas.loc[list(planted), "enumerator_id"]) <= bad
    en = res.result.enumerators.set_index("enumerator_id")
    assert (en.loc[sorted(set(eas.loc[list(planted), "enumerator_id"])), "flagged_eas"] >= 1).all()

    # review items: one 'revisit' per flagged EA, scoped by its EA code, codes and numbers only
    items = open_items(engine, res.run_id, "revisit")
    assert sorted(items["ea_code"]) == sorted(flagged.index) and (items["subject"] == items["ea_code"]).all()
    for p in items["payload"]:
        payload = json.loads(p)
        assert set(payload) == {"flag", "township_code", "enumerator_id", "households_listed",
                                "households_enumerated", "persons_listed", "persons_enumerated", "persons_gap",
                                "limit", "gap_rate"}
        assert not re.search(r"[\u4e00-\u9fff]", p)

    # a QC officer sees only the revisits of their township and can decide them
    town = surplus_ea[:9]
    add_operator(engine, "admin", "admin", "admin")
    add_operator(engine, "admin", "qc.li", "qc", [town])
    mine = list_items(engine, "qc.li")
    mine = mine[mine["detail"] == "revisit"]
    assert sorted(mine["ea_code"]) == sorted(e for e in flagged.index if e.startswith(town))
    ref = mine.loc[mine["ea_code"] == surplus_ea, "ref"].iloc[0]
    assert decide_item(engine, "qc.li", ref, "explained", "listing missed a building", four_eyes=0.0)

    # the ledger entry and the stored run
    entry = history(engine, command="reconcile listing")[0]
    assert entry["operator"] == "sup.wang" and set(entry["inputs"]) == {"listing", "census"}
    assert entry["params"] == {"relative": 0.05, "min_persons": 8, "run_id": res.run_id}
    result = entry["result"]
    assert result["run_id"] == res.run_id and result["shortfall_eas"] == len(planted) and result["surplus_eas"] == 1
    assert verify(engine).ok
    latest = latest_reconciliation(engine)
    assert latest["run_id"] == res.run_id and latest["tolerance"]["relative"] == 0.05
    row = next(r for r in latest["eas"] if r["ea_code"] == surplus_ea)
    assert {"ea_code", "township_code", "enumerator_id", "households_listed", "households_enumerated",
            "persons_listed", "persons_enumerated", "persons_gap", "gap_rate", "flag"} <= set(row)
    assert row["flag"] == "surplus" and row["township_code"] == town
    assert len(latest["enumerators"]) == len(en) and len(latest["eas"]) == len(eas)


def test_cli_reconcile_listing(tmp_path, county):
    db = f"sqlite:///{tmp_path / 'store.db'}"

    def run(*args):
        return CliRunner().invoke(cli, ["--db", db, "--operator", "sup.wang", *args], catch_exceptions=False)

    assert run("init").exit_code == 0
    r = run("reconcile", "listing")
    assert r.exit_code == 2 and "no listing is loaded" in r.output
    eng = make_engine(db)
    _load(eng, county["out"])
    eng.dispose()
    r = run("reconcile", "listing")
    assert r.exit_code == 0, r.output
    text = r.output
    assert county["surplus_ea"] in text and "surplus" in text and "shortfall" in text
    assert "reconcile listing run" in text and county["surplus_ea"][:9] in text
    # codes and numbers only: no Chinese text (names, addresses), no 18-character ID numbers
    names = pd.read_csv(county["out"] / "census" / "persons.csv", dtype=str)["name"]
    assert not re.search(r"[\u4e00-\u9fff]", text) and not re.search(r"\d{17}[\dX]", text)
    assert not any(n in text for n in names.head(500))
    r = run("reconcile", "listing", "--tolerance", "50%", "--json")
    data = json.loads(r.output)
    assert data["shortfall_eas"] == 0 and data["surplus_eas"] == 0 and data["tolerance"]["relative"] == 0.5
    assert len(data["eas_table"]) == len(county["truth"])
    r = run("reconcile", "listing", "--tolerance", "abc")
    assert r.exit_code == 2
    # with operators registered: supervision and admin may run it, a QC officer may not
    eng = make_engine(db)
    add_operator(eng, "boss", "boss", "admin")
    add_operator(eng, "boss", "sup.wang", "supervision")
    add_operator(eng, "boss", "qc.li", "qc", ["320831001"])
    eng.dispose()
    assert run("reconcile", "listing").exit_code == 0
    r = CliRunner().invoke(cli, ["--db", db, "--operator", "qc.li", "reconcile", "listing"])
    assert r.exit_code == 2 and "refused" in r.output
    r = run("ledger", "verify", "--json")
    assert json.loads(r.output)["ok"] is True
