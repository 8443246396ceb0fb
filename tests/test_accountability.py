"""Accountability figures: binomial funnel limits checked by hand, and flag / confirmed-error /
PES omission rates by unit on a synthetic county whose bad enumerators are known."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import COUNTY_FILES, load_county
from scipy.stats import binom
from sqlalchemy import func, insert, select

import rules.check
import rules.ruleset
from audit_engine.accountability import (
    binomial_limit,
    classify,
    flag_figures,
    funnel_limits,
    omission_figures,
)
from audit_engine.accountability.figures import NoData
from audit_engine.store.models import Decision, Enumerator, Flag, Person, SampleStatus

FILES = COUNTY_FILES


# ---------------------------------------------------------------- funnel limits (pure)

def _hand_limit(q: float, n: int, p: float) -> float:
    """Spiegelhalter's interpolated binomial quantile from a CDF summed by hand."""
    cdf, s = [], 0.0
    for k in range(n + 1):
        s += comb(n, k) * p ** k * (1 - p) ** (n - k)
        cdf.append(s)
    r = next(k for k in range(n + 1) if cdf[k] >= q)
    below = cdf[r - 1] if r > 0 else 0.0
    return (r - (cdf[r] - q) / (cdf[r] - below)) / n


def test_limits_p01_n100_by_hand():
    # F(15)=0.9601, F(16)=0.9794 -> r=16, alpha=(0.9794-0.975)/(0.9794-0.9601)=0.2279 -> 0.15772
    assert binomial_limit(0.975, 100, 0.1) == pytest.approx(0.157719, abs=1e-6)
    # F(4)=0.02371, F(5)=0.05758 -> r=5, alpha=0.9656 -> 0.04038
    assert binomial_limit(0.025, 100, 0.1) == pytest.approx(0.040381, abs=1e-6)
    # 99.8%: r=20 above, r=2 below
    assert binomial_limit(0.999, 100, 0.1) == pytest.approx(0.198357, abs=1e-6)
    assert binomial_limit(0.001, 100, 0.1) == pytest.approx(0.014179, abs=1e-6)
    for q in (0.001, 0.025, 0.975, 0.999):
        lim = binomial_limit(q, 100, 0.1)
        assert lim == pytest.approx(_hand_limit(q, 100, 0.1), abs=1e-12)
        # between (r-1)/n and r/n, r the scipy quantile
        r = binom.ppf(q, 100, 0.1)
        assert (r - 1) / 100 <= lim <= r / 100


@pytest.mark.parametrize(("n", "p0"), [(37, 0.05), (250, 0.02), (400, 0.3)])
def test_limits_match_hand_cdf(n, p0):
    lim = funnel_limits(n, p0)
    assert lim["upper_95"] == pytest.approx(_hand_limit(0.975, n, p0), abs=1e-9)
    assert lim["lower_95"] == pytest.approx(max(0.0, _hand_limit(0.025, n, p0)), abs=1e-9)
    assert lim["upper_99_8"] == pytest.approx(_hand_limit(0.999, n, p0), abs=1e-9)
    assert lim["lower_99_8"] == pytest.approx(max(0.0, _hand_limit(0.001, n, p0)), abs=1e-9)


def test_limits_narrow_with_n_and_approach_normal():
    n = np.array([20, 50, 100, 500, 1000, 5000, 20000])
    lim = funnel_limits(n, 0.1)
    assert np.all(np.diff(lim["upper_95"]) < 0) and np.all(np.diff(lim["upper_99_8"]) < 0)
    assert np.all(np.diff(lim["lower_95"][2:]) > 0) and np.all(np.diff(lim["lower_99_8"][2:]) > 0)
    assert np.all(lim["lower_99_8"] <= lim["lower_95"]) and np.all(lim["lower_95"] < 0.1)
    assert np.all(lim["upper_95"] > 0.1) and np.all(lim["upper_95"] <= lim["upper_99_8"])
    se = np.sqrt(0.1 * 0.9 / 20000)
    assert lim["upper_95"][-1] == pytest.approx(0.1 + 1.96 * se, abs=0.15 * se)
    assert lim["upper_99_8"][-1] == pytest.approx(0.1 + 3.09 * se, abs=0.25 * se)


def test_classify_and_edges():
    # n=100, p0=0.1: 95% (0.0404, 0.1577), 99.8% (0.0142, 0.1984)
    got = classify([16, 15, 20, 19, 4, 5, 1, 2, 0], [100] * 8 + [0], 0.1)
    assert list(got) == ["above 95%", "", "above 99.8%", "above 95%", "below 95%", "", "below 99.8%",
                         "below 95%", ""]
    assert np.isnan(binomial_limit(0.975, 0, 0.1))
    assert binomial_limit(0.975, 50, 0.0) == 0.0
    with pytest.raises(ValueError):
        binomial_limit(1.0, 10, 0.1)


def test_classify_ceiling_is_not_an_outlier():
    # p0 = 0.9937, n = 17: P(Y = 17) = 0.9937**17 = 0.898, so 17 of 17 is the likeliest count; the
    # interpolated upper limit is just under 1, and the strict rule alone would flag the unit
    assert binomial_limit(0.975, 17, 0.9937) < 1.0
    assert list(classify([17, 15], [17, 17], 0.9937)) == ["", "below 95%"]
    # a unit with every item counted is still above when the overall rate is low
    assert list(classify([10], [10], 0.1)) == ["above 99.8%"]


# ---------------------------------------------------------------- the store

@pytest.fixture(scope="module")
def county(tmp_path_factory) -> Path:
    from audit_engine.synth import SynthConfig, generate
    from audit_engine.synth.config import CaptureRates

    out = tmp_path_factory.mktemp("acc_county")
    generate(SynthConfig(persons=20_000, seed=23, census=CaptureRates(bad_enumerator_share=0.12)), out)
    return out


@pytest.fixture
def checked(engine, county):
    load_county(engine, county, FILES, operator="t")
    rules.check.run_check(engine, rules.ruleset.load_ruleset(), operator="t")
    return engine


def test_no_check_run(engine):
    with pytest.raises(NoData, match="check"):
        flag_figures(engine)
    with pytest.raises(NoData, match="link pes"):
        omission_figures(engine)


def test_flag_rates_find_bad_enumerators(checked, county):
    engine = checked
    truth = pd.read_csv(county / "truth" / "enumerators.csv", dtype=str)
    truth = truth[truth["source"] == "census"]
    bad = set(truth.loc[truth["bad"] == "1", "enumerator_id"])
    fig = flag_figures(engine, "enumerator")
    rows = pd.DataFrame(fig.rows).set_index("unit")
    assert set(rows.index) == set(truth["enumerator_id"]) and len(bad) >= 4

    above95 = set(rows.index[rows["outlier"].isin(["above 95%", "above 99.8%"])])
    found = above95 & bad
    # bad enumerators (4x the item error rates) are over-represented among the units above 95%
    assert len(found) >= 0.75 * len(bad)
    assert len(found) / len(above95) > 3 * len(bad) / len(rows)
    assert not bad & set(rows.index[rows["outlier"].str.startswith("below")])
    print(f"bad enumerators {len(bad)} of {len(rows)}; above 95%: {len(above95)}, of them bad {len(found)}")

    # the figures of one enumerator, by hand from the store
    e = sorted(bad)[0]
    with engine.connect() as conn:
        keys = set(conn.execute(select(Person.person_key).where(Person.source == "census",
                                                                Person.enumerator_id == e)).scalars())
        flagged = set(conn.execute(select(Flag.record_key).where(Flag.run_id == fig.run_id)).scalars()) & keys
        persons = int(conn.execute(select(func.count()).select_from(Person).where(Person.source == "census")).scalar())
    r = rows.loc[e]
    assert (r["persons"], r["flagged"]) == (len(keys), len(flagged))
    assert r["flag_rate"] == pytest.approx(len(flagged) / len(keys))
    p0 = fig.overall["flagged"] / fig.overall["persons"]
    assert fig.overall["persons"] == persons and fig.overall["flag_rate"] == pytest.approx(p0)
    assert r["flag_upper_95"] == pytest.approx(binomial_limit(0.975, len(keys), p0))

    # the other units partition the same persons and flagged persons
    for by in ("supervisor", "ea", "township"):
        o = flag_figures(engine, by).overall
        assert (o["persons"], o["flagged"]) == (fig.overall["persons"], fig.overall["flagged"])
    with engine.connect() as conn:
        sup = dict(conn.execute(select(Enumerator.id, Enumerator.supervisor_id)).all())
    srows = pd.DataFrame(flag_figures(engine, "supervisor").rows).set_index("unit")
    s = sup[e]
    mine = [u for u in rows.index if sup.get(u) == s]
    assert srows.loc[s, "persons"] == rows.loc[mine, "persons"].sum()
    assert srows.loc[s, "flagged"] == rows.loc[mine, "flagged"].sum()
    trows = pd.DataFrame(flag_figures(engine, "township").rows)
    assert trows["unit"].str.len().eq(9).all()


def test_confirmed_rates_from_decisions(checked):
    engine = checked
    run = flag_figures(engine).run_id
    with engine.connect() as conn:
        fl = pd.DataFrame(conn.execute(
            select(Flag.id, Person.enumerator_id).join(Person, (Person.person_key == Flag.record_key)
                                                       & (Person.source == "census"))
            .where(Flag.run_id == run).order_by(Flag.id)).all(), columns=["id", "enumerator_id"])
    e1, e2 = fl["enumerator_id"].value_counts().index[:2]
    f1 = fl.loc[fl["enumerator_id"] == e1, "id"].tolist()[:6]
    f2 = fl.loc[fl["enumerator_id"] == e2, "id"].tolist()[:4]
    now = datetime.now(UTC)
    plan = {f1[0]: "confirmed", f1[1]: "confirmed", f1[2]: "confirmed", f1[3]: "false_alarm", f1[4]: "revisit",
            f2[0]: "false_alarm", f2[1]: "false_alarm", f2[2]: "confirmed"}
    rows = [{"item_kind": "flag", "item_id": i, "stage": "first", "decision": d, "reason": "t", "operator": "qc",
             "decided_at": now, "ea_code": None, "needs_second": False} for i, d in plan.items()]
    # a second-stage decision is not the decision and must not count
    rows.append({**rows[3], "stage": "second", "decision": "confirmed"})
    with engine.begin() as conn:
        conn.execute(insert(Decision), rows)
    fig = flag_figures(engine, "enumerator")
    by = pd.DataFrame(fig.rows).set_index("unit")
    assert (by.loc[e1, "confirmed"], by.loc[e1, "decided"], by.loc[e1, "revisit"]) == (3, 4, 1)
    assert by.loc[e1, "confirmed_rate"] == pytest.approx(3 / 4)
    assert (by.loc[e2, "confirmed"], by.loc[e2, "decided"]) == (1, 3)
    assert by.loc[e2, "confirmed_rate"] == pytest.approx(1 / 3)
    assert (fig.overall["confirmed"], fig.overall["decided"]) == (4, 7)
    assert fig.overall["confirmed_rate"] == pytest.approx(4 / 7)
    assert by.loc[e1, "confirmed_upper_95"] == pytest.approx(binomial_limit(0.975, 4, 4 / 7))
    undecided = by.drop(index=[e1, e2])
    assert (undecided["decided"] == 0).all() and undecided["confirmed_rate"].isna().all()
    assert (undecided["confirmed_outlier"] == "").all()


def test_pes_omissions_by_ea_and_enumerator(checked):
    from audit_engine.pes.linking import run_link_pes
    from sampling.design import load_design
    from sampling.draw import draw
    from sampling.store import read_frame, save_sample

    engine = checked
    design = load_design()
    save_sample(engine, design, 5, draw(design, read_frame(engine, design), 5), "t")
    run_link_pes(engine, "t")
    ea = omission_figures(engine, "ea")
    with engine.connect() as conn:
        st = pd.DataFrame(conn.execute(select(SampleStatus.ea_code, SampleStatus.cls)
                                       .where(SampleStatus.run_id == ea.run_id, SampleStatus.sample == "P")).all(),
                          columns=["ea_code", "cls"])
        census = pd.DataFrame(conn.execute(select(Person.ea_code, Person.enumerator_id)
                                           .where(Person.source == "census")).all(), columns=["ea_code", "enumerator_id"])
    valid = st[st["cls"] != "invalid"]
    assert ea.overall["p_persons"] == len(valid) > 0
    # nothing decided yet: omitted = not matched, open possibles = possible
    assert ea.overall["omitted"] == int((valid["cls"] == "not_matched").sum())
    assert ea.overall["possible_open"] == int((valid["cls"] == "possible").sum())
    rows = pd.DataFrame(ea.rows).set_index("unit")
    assert set(rows.index) == set(valid["ea_code"])
    code = valid["ea_code"].value_counts().index[0]
    v = valid[valid["ea_code"] == code]
    assert rows.loc[code, "p_persons"] == len(v)
    assert rows.loc[code, "omitted"] == int((v["cls"] == "not_matched").sum())
    p0 = ea.overall["omission_rate"]
    assert rows.loc[code, "outlier"] == classify(rows.loc[code, "omitted"], len(v), p0)[()]

    en = omission_figures(engine, "enumerator")
    erows = pd.DataFrame(en.rows).set_index("unit")
    assert en.overall["omitted"] == ea.overall["omitted"] and en.overall["omission_rate"] == p0
    # every enumerator is charged exactly the omissions of the sample EAs they enumerated
    census_eas = census.groupby("enumerator_id")["ea_code"].agg(set)
    for e, r in erows.iterrows():
        eas = census_eas[e] & set(rows.index)
        assert r["eas"] == len(eas)
        assert r["p_persons"] == rows.loc[sorted(eas), "p_persons"].sum()
        assert r["omitted"] == rows.loc[sorted(eas), "omitted"].sum()
    assert erows["p_persons"].sum() >= ea.overall["p_persons"]


def test_cli_json_and_refusal(checked):
    from audit_engine.access.operators import add_operator
    from audit_engine.cli.accountability import accountability
    from audit_engine.cli.main import cli

    if "accountability" not in cli.commands:
        cli.add_command(accountability)
    url = checked.url.render_as_string(hide_password=False)
    runner = CliRunner()
    r = runner.invoke(cli, ["--db", url, "--operator", "sup", "accountability", "--by", "township", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["kind"] == "flags" and data["by"] == "township"
    assert data["overall"]["persons"] == sum(u["persons"] for u in data["units"])
    r = runner.invoke(cli, ["--db", url, "--operator", "sup", "accountability"])
    assert r.exit_code == 0 and "flags by enumerator" in r.output
    r = runner.invoke(cli, ["--db", url, "--operator", "sup", "accountability", "--pes"])
    assert r.exit_code == 2 and "link pes" in r.output
    r = runner.invoke(cli, ["accountability", "--help"])
    assert "Examples:" in r.output
    add_operator(checked, "root", "root", "admin")
    r = runner.invoke(cli, ["--db", url, "--operator", "nobody", "accountability"])
    assert r.exit_code == 2 and "refused" in r.output
