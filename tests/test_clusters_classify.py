"""Duplicate clusters (audit_engine.linkage.clusters) and E-/P-sample classification
(audit_engine.coverage.classify): hand-made cases, then a synthetic county against its truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audit_engine.coverage.classify import (
    CLASSES,
    E_CLASSES,
    ERRONEOUS,
    FOLLOWUP_OUTCOMES,
    P_CLASSES,
    ce_probability,
    classify_e_sample,
    key_links,
    p_sample_status,
    resolve,
)
from audit_engine.linkage import dedupe, link
from audit_engine.linkage.census import duplicate_settings, person_keys, pes_census_settings
from audit_engine.linkage.clusters import WEAK_WEIGHT, choose_kept, clusters

STRONG, WEAK = 20.0, 10.0
assert WEAK < WEAK_WEIGHT < STRONG


# ---------------------------------------------------------------- clusters

def test_components_chain_triangle_isolated():
    # 0-1-2 chain (0-2 not linked); 3-4-5 triangle; 6 isolated; 7-8 pair given twice and reversed;
    # a self pair on 9 is ignored
    left = [0, 1, 3, 4, 5, 8, 7, 9]
    right = [1, 2, 4, 5, 3, 7, 8, 9]
    weight = [STRONG, 18.0, STRONG, 16.0, 14.0, 15.0, 17.0, STRONG]
    cl = clusters(10, left, right, weight)
    assert cl.record_cluster.tolist() == [1, 1, 1, 2, 2, 2, -1, 3, 3, -1]
    assert cl.n_clusters == 3
    s = cl.summary.set_index("cluster")
    assert s["size"].tolist() == [3, 3, 2]
    assert s["pairs"].tolist() == [2, 3, 1]
    assert s["transitive_pairs"].tolist() == [1, 0, 0]
    assert s.loc[1, ["weight_min", "weight_max", "weight_mean"]].tolist() == [18.0, STRONG, 19.0]
    assert s.loc[2, ["weight_min", "weight_max", "weight_mean"]].tolist() == [14.0, STRONG, 50.0 / 3]
    assert s.loc[3, ["weight_min", "weight_max"]].tolist() == [17.0, 17.0]  # duplicate pair: highest weight
    assert not s["weak"].any()  # all links strong
    assert cl.records["record"].tolist() == [0, 1, 2, 3, 4, 5, 7, 8]
    assert cl.records["size"].tolist() == [3, 3, 3, 3, 3, 3, 2, 2]
    assert sorted(map(tuple, cl.pairs[["left", "right"]].to_numpy().tolist())) == [
        (0, 1), (1, 2), (3, 4), (3, 5), (4, 5), (7, 8)]


def test_weak_clusters():
    # chain with one weak link: 0 and 2 joined only through it → weak
    # triangle with one weak link: every pair linked directly → not weak
    # a pair with a weak link: nothing transitive → not weak
    # a star 7-8, 7-9, 9-10 weak: 10 reaches 7 and 8 only through the weak link → weak
    left = [0, 1, 3, 4, 5, 11, 7, 7, 9]
    right = [1, 2, 4, 5, 3, 12, 8, 9, 10]
    weight = [STRONG, WEAK, STRONG, STRONG, WEAK, WEAK, STRONG, STRONG, WEAK]
    cl = clusters(13, left, right, weight)
    weak = dict(zip(cl.summary["cluster"], cl.summary["weak"], strict=True))
    c = cl.record_cluster
    assert weak[c[0]] and not weak[c[3]] and not weak[c[11]] and weak[c[7]]
    # the same chain with both links strong is not weak; a weak threshold can be chosen
    assert not clusters(3, [0, 1], [1, 2], [STRONG, STRONG]).summary["weak"].any()
    assert not clusters(3, [0, 1], [1, 2], [STRONG, WEAK], weak_weight=WEAK).summary["weak"].any()


def test_clusters_empty_and_bad_input():
    cl = clusters(4, [], [], [])
    assert cl.n_clusters == 0 and cl.record_cluster.tolist() == [-1] * 4
    with pytest.raises(ValueError):
        clusters(3, [0], [3], [1.0])
    with pytest.raises(ValueError):
        clusters(3, [0, 1], [1], [1.0])


def _table(reg: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"person_id": [f"C{i:03d}" for i in range(len(reg))], "name": "王明",
                         "id_number": "320831199001011234", "registration_type": reg})


def test_choose_kept_rules():
    # cluster 1 (0,1): 1 says "registered in another township" → usual residence, kept
    # cluster 2 (2,3,4): 4 matched to the PES → kept even though 2 is registered elsewhere
    # cluster 3 (5,6): both registered here → lowest person_id (5)
    # cluster 4 (7,8): both matched, 8 registered elsewhere → 8 (usual residence breaks the tie)
    table = _table(["1", "3", "4", "1", "1", "1", "1", "1", "2"])
    cl = clusters(9, [0, 2, 3, 5, 7], [1, 3, 4, 6, 8], [STRONG, 18.0, 16.0, STRONG, 15.0])
    kept = choose_kept(cl, table, matched_to_pes={"C004", "C007", "C008"})
    k = kept.clusters.set_index("cluster")
    assert k["kept"].tolist() == [1, 4, 5, 8]
    assert k["kept_id"].tolist() == ["C001", "C004", "C005", "C008"]
    assert k["reason"].tolist() == ["usual_residence", "pes_match", "lowest_id", "usual_residence"]
    m = kept.members.set_index("record")
    assert m["role"].to_dict() == {0: "extra", 1: "kept", 2: "extra", 3: "extra", 4: "kept", 5: "kept",
                                   6: "extra", 7: "extra", 8: "kept"}
    # weight of the direct link to the kept record; 2 reaches 4 only through 3
    assert m.loc[3, "weight"] == 16.0 and np.isnan(m.loc[2, "weight"]) and np.isnan(m.loc[4, "weight"])
    ev = json.loads(k.loc[2, "evidence"])
    assert ev["extra_ids"] == ["C002", "C003"] and ev["transitive_pairs"] == 1 and ev["size"] == 3
    # the same clusters without the PES: cluster 2 keeps the record registered elsewhere
    no_pes = choose_kept(cl, table).clusters.set_index("cluster")
    assert no_pes.loc[2, "kept"] == 2 and no_pes.loc[2, "reason"] == "usual_residence"
    # matched given as one flag per record
    flags = np.zeros(9, dtype=bool)
    flags[[4, 7, 8]] = True
    assert choose_kept(cl, table, flags).clusters["kept"].tolist() == [1, 4, 5, 8]
    # evidence holds ids, codes and numbers only
    for text in list(kept.members["evidence"]) + list(kept.clusters["evidence"]):
        assert "王明" not in text and "320831199001011234" not in text
    with pytest.raises(ValueError):
        choose_kept(cl, table.iloc[:5])


# ---------------------------------------------------------------- E-sample

def _records() -> pd.DataFrame:
    rows = [
        # person_id, household_id, ea_code, name, sex, birth_ym, registration_type
        ("A001", "HA", "EA1", "张伟", "1", "1980-05", "1"),   # matched → correct
        ("A002", "HA", "EA1", "张梓涵", "2", "2020-11", "1"),  # born in Nov 2020 → born_after
        ("A003", "HA", "EA1", "张建国", "1", "1940-03", "1"),  # death reported in HA → died_before
        ("A004", "HB", "EA1", "李秀英", "2", "1950-07", "1"),  # death reported in EA1, other household
        ("A005", "HB", "EA1", "李明", "1", "1990-01", "1"),    # extra record of cluster 7 → duplicate
        ("A006", "HC", "EA1", "王芳", "2", "1985-02", "1"),    # unmatched, a possible PES match
        ("A007", "HC", "EA1", "王军", "1", "1960-09", "1"),    # died after the standard time: unresolved
        ("A008", "HC", "EA1", "王丽", "2", "2020-10", "1"),    # born before: matched → correct
        ("A009", "HD", "EA1", "赵静", "2", "1970-04", "1"),    # kept per cluster, but not matched
        ("A010", "HD", "EA1", "赵静", "2", "1970-04", "3"),    # ... and this member is matched
    ]
    return pd.DataFrame(rows, columns=["person_id", "household_id", "ea_code", "name", "sex", "birth_ym",
                                       "registration_type"]).assign(id_number="320831197004041234")


LINKS = pd.DataFrame({
    "pes_key": ["P01", "P02", "P06", "P08", "P10"],
    "census_key": ["A001", "A001", "A006", "A008", "A010"],
    "weight": [25.0, 12.0, 6.0, 24.0, 22.0],
    "status": ["match", "match", "possible", "match", "match"],
})
DUPS = pd.DataFrame({"person_key": ["X900", "A005", "A009", "A010"], "cluster": [7, 7, 8, 8],
                     "role": ["kept", "extra", "kept", "extra"], "weight": [np.nan, 21.5, np.nan, 19.0]})
DEATHS = pd.DataFrame({
    "household_id": ["HA", "HZ", "HC", "HA"], "ea_code": ["EA1", "EA1", "EA1", "EA1"], "line_no": [1, 2, 1, 2],
    "name": ["张建国", "李秀英", "王军", "张伟"], "sex": ["1", "2", "1", "2"],
    "birth_ym": ["1940-03", "1950-07", "1960-09", "1980-05"], "death_ym": ["2020-03", "2019-12", "2020-11", "2020-01"],
})


def test_classify_each_class():
    out = classify_e_sample(_records(), LINKS, DUPS, DEATHS).set_index("person_id")
    assert out["class"].to_dict() == {
        "A001": "correct", "A002": "born_after", "A003": "died_before", "A004": "died_before",
        "A005": "duplicate", "A006": "unresolved", "A007": "unresolved", "A008": "correct",
        "A009": "duplicate", "A010": "correct"}
    assert set(out["class"]) <= set(E_CLASSES)
    ev = out["evidence"].map(json.loads)
    assert ev["A001"] == {"pes_id": "P01", "weight": 25.0} and out.at["A001", "other_key"] == "P01"
    assert ev["A002"] == {"birth_ym": "2020-11"}
    assert ev["A003"] == {"death_household_id": "HA", "death_line_no": 1, "death_ym": "2020-03", "same": "household"}
    assert ev["A004"]["same"] == "ea" and ev["A004"]["death_household_id"] == "HZ"
    assert ev["A005"] == {"cluster": 7, "kept_id": "X900", "weight": 21.5, "kept_by": "cluster_rule"}
    # cluster 8: the stored kept record is unmatched, the other member matched → roles swap
    assert ev["A009"]["kept_id"] == "A010" and ev["A009"]["kept_by"] == "pes_match"
    assert ev["A006"]["possible"] == [{"pes_id": "P06", "weight": 6.0}] and not out.at["A006", "matched"]
    assert ev["A006"]["followup"] == list(FOLLOWUP_OUTCOMES)
    # erroneous: True / False / NA while unresolved
    err = out["erroneous"]
    assert err["A002"] and err["A005"] and not err["A001"] and pd.isna(err["A006"]) and pd.isna(err["A007"])
    for text in out["evidence"]:
        assert "张" not in text and "李" not in text and "320831" not in text
    # no links, clusters or deaths: born_after still, the rest unresolved
    bare = classify_e_sample(_records(), None)
    assert bare["class"].value_counts().to_dict() == {"unresolved": 9, "born_after": 1}


def test_resolve_applies_followup():
    classes = classify_e_sample(_records(), LINKS, DUPS, DEATHS)
    out = resolve(classes, {"A006": "correct", "A007": "not_resident"}).set_index("person_id")
    assert out.at["A006", "class"] == "correct" and not out.at["A006", "erroneous"]
    assert out.at["A007", "class"] == "not_resident" and out.at["A007", "erroneous"]
    assert out.at["A007", "classified"] == "unresolved" and out.at["A007", "followup"] == "not_resident"
    assert json.loads(out.at["A007", "evidence"])["was"] == "unresolved"
    assert out.at["A001", "class"] == "correct" and out.at["A001", "followup"] is None
    assert classes["class"].tolist().count("unresolved") == 2  # input untouched
    assert set(out["class"]) <= set(CLASSES) and set(ERRONEOUS) < set(CLASSES)
    with pytest.raises(ValueError, match="outcome"):
        resolve(classes, {"A006": "maybe"})
    with pytest.raises(ValueError, match="not among"):
        resolve(classes, {"Z999": "correct"})


def _ce_frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(cell, classified, class) → a frame shaped like resolve()'s output."""
    return pd.DataFrame({"person_id": [f"R{i}" for i in range(len(rows))], "cell": [r[0] for r in rows],
                         "classified": [r[1] for r in rows], "class": [r[2] for r in rows]})


def test_ce_probability_hand_worked():
    rows = [
        ("A", "correct", "correct"),
        ("A", "born_after", "born_after"),        # data-resolved: not in the imputation pool
        ("A", "unresolved", "correct"),
        ("A", "unresolved", "correct"),
        ("A", "unresolved", "fictitious"),        # cell A pool: 2 correct of 3 → 2/3
        ("A", "unresolved", "unresolved"),
        ("A", "unresolved", "unresolved"),
        ("B", "duplicate", "duplicate"),
        ("B", "unresolved", "unresolved"),        # cell B: no pool → whole sample 2/4
        ("C", "unresolved", "not_resident"),      # cell C pool: 0 of 1
        ("C", "unresolved", "unresolved"),
    ]
    ce = ce_probability(_ce_frame(rows), cell="cell")
    assert ce.p.tolist() == pytest.approx([1, 0, 1, 1, 0, 2 / 3, 2 / 3, 0, 0.5, 0, 0])
    r = ce.rates.set_index("cell")
    assert r["source"].to_dict() == {"A": "cell", "B": "sample", "C": "cell"}
    assert r.loc["A", ["resolved_unmatched", "resolved_correct", "unresolved"]].tolist() == [3, 2, 2]
    assert ce.warnings == []
    # one cell: 2 of 4
    assert ce_probability(_ce_frame(rows)).p[[5, 8, 10]].tolist() == pytest.approx([0.5, 0.5, 0.5])
    # labels given per row instead of a column name
    assert ce_probability(_ce_frame(rows), cell=[r[0] for r in rows]).p.tolist() == pytest.approx(ce.p.tolist())


def test_ce_probability_no_resolved_case_warns():
    frame = _ce_frame([("A", "correct", "correct"), ("A", "unresolved", "unresolved")])
    with pytest.warns(UserWarning, match="1.0"):
        ce = ce_probability(frame, cell="cell")
    assert ce.p.tolist() == [1.0, 1.0] and len(ce.warnings) == 1 and ce.rates["source"].tolist() == ["default"]
    with pytest.raises(ValueError):
        ce_probability(_ce_frame([("A", "correct", "wrong")]))


def test_p_sample_status():
    pes = pd.DataFrame({"person_id": ["P01", "P06", "P07", "P09"], "ea_code": "EA1",
                        "birth_ym": ["1980-05", "1985-02", "1999-01", "2020-12"]})
    links = pd.concat([LINKS, pd.DataFrame({"pes_key": ["P09"], "census_key": ["A002"], "weight": [20.0],
                                            "status": ["match"]})], ignore_index=True)
    out = p_sample_status(pes, links).set_index("person_id")
    assert out["class"].to_dict() == {"P01": "matched", "P06": "possible", "P07": "not_matched", "P09": "invalid"}
    assert set(out["class"]) <= set(P_CLASSES)
    assert out["valid"].tolist() == [True, True, True, False]
    assert out["matched"].tolist() == [True, False, False, False]
    assert json.loads(out.at["P01", "evidence"]) == {"census_id": "A001", "weight": 25.0, "status": "match"}
    assert json.loads(out.at["P09", "evidence"]) == {"census_id": "A002", "weight": 20.0, "status": "match",
                                                     "reason": "born_after", "birth_ym": "2020-12"}


# ---------------------------------------------------------------- synthetic county

@pytest.fixture(scope="module")
def county20k(tmp_path_factory):
    from audit_engine.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("county20k")
    generate(SynthConfig(persons=20_000, seed=3), out)

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(out / name, dtype=str, keep_default_na=False).replace("", None)

    return {k: read(f) for k, f in (("census", "census/persons.csv"), ("pes", "pes/persons.csv"),
                                    ("deaths", "census/deaths.csv"), ("truth", "truth/records.csv"))}


def test_synthetic_county_against_truth(county20k):
    census, pes, deaths, truth = (county20k[k] for k in ("census", "pes", "deaths", "truth"))
    dup = dedupe(person_keys(census), duplicate_settings()).links()
    links = key_links(link(person_keys(pes), person_keys(census), pes_census_settings()), pes, census)
    cl = clusters(len(census), dup["left"], dup["right"], dup["weight"])
    kept = choose_kept(cl, census, matched_to_pes=set(links["census_key"]))
    out = classify_e_sample(census, links, kept.members, deaths)

    kind = truth["errors"].fillna("").str.split(";").str[0]
    kind = kind.where(kind.isin(["duplicate", "died_before", "born_after", "fictitious"]), "ok")
    true_kind = pd.Series(kind.to_numpy(), index=truth["person_id"])[truth["source"].to_numpy() == "census"]
    t = true_kind.reindex(out["person_id"]).to_numpy()
    c = out["class"].to_numpy()

    is_dup, said_dup = t == "duplicate", c == "duplicate"
    assert is_dup.sum() >= 50
    assert (is_dup & said_dup).sum() / is_dup.sum() >= 0.95          # recall
    assert (is_dup & said_dup).sum() / said_dup.sum() >= 0.95        # precision
    assert ((t == "born_after") == (c == "born_after")).all()        # exact
    # kept record = the true home record (not the one made at the registration household)
    kept_kind = true_kind.reindex(kept.clusters["kept_id"]).to_numpy()
    assert (kept_kind != "duplicate").mean() >= 0.95
    assert (kept_kind == "ok").mean() >= 0.95
    # truth-correct records classified erroneous: at most 0.1 %
    ok = t == "ok"
    assert out["erroneous"].fillna(False).to_numpy(dtype=bool)[ok].mean() <= 0.001
    # matched records are truly correct (the PES link is one-to-one and precise)
    assert (t[c == "correct"] == "ok").mean() >= 0.999
    # P-sample: every PES person gets a status; matched ones are exactly the links
    ps = p_sample_status(pes, links)
    assert len(ps) == len(pes) and ps["matched"].sum() == links["pes_key"].isin(ps["person_id"][ps["valid"]]).sum()
