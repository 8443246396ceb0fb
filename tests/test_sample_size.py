"""The sample-size calculator: hand-worked values, and the margin of error its answer really gives
on the synthetic county over repeated draws of the bundled design."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from audit_engine.synth import SynthConfig, generate
from sampling.design import bundled_path, parse_design
from sampling.simulate import moe_study
from sampling.size import eas_needed, moe_for


def test_hand_worked_sizes():
    # Cochran (1977) §4.4: p = 0.5, e = 0.05, 95 %: n0 = 1.959964^2 * 0.25 / 0.0025 = 384.15 -> 385;
    # from N = 1000: 384.15 / (1 + 383.15 / 1000) = 277.7 -> 278.
    assert eas_needed(0.5, 0.05) == 385
    assert eas_needed(0.5, 0.05, population_eas=1000) == 278
    # The bundled design's inputs: p = 0.015, e = 0.005, deff 2, 260 persons per EA:
    # persons = 3.841459 * 0.015 * 0.985 * 2 / 0.000025 = 4540.6; EAs = 4540.6 / 260 = 17.46 -> 18;
    # from 740 EAs: 17.46 / (1 + 16.46 / 740) = 17.08 -> 18; with 10 % non-response 17.08 / 0.9 = 18.98 -> 19.
    assert eas_needed(0.015, 0.005, deff=2, mean_persons_per_ea=260) == 18
    assert eas_needed(0.015, 0.005, deff=2, mean_persons_per_ea=260, population_eas=740) == 18
    assert eas_needed(0.015, 0.005, deff=2, mean_persons_per_ea=260, population_eas=740, nonresponse=0.1) == 19
    # 99 % needs (2.575829 / 1.959964)^2 = 1.727 times the persons: 17.46 * 1.727 = 30.2 -> 31.
    assert eas_needed(0.015, 0.005, deff=2, mean_persons_per_ea=260, confidence=0.99) == 31
    # Never more EAs than the frame has.
    assert eas_needed(0.015, 0.0005, deff=2, mean_persons_per_ea=260, population_eas=40) == 40


def test_moe_for_inverts_the_calculator():
    for rate, moe, deff, b in [(0.015, 0.005, 2.0, 260), (0.03, 0.004, 3.5, 300), (0.1, 0.01, 1.0, 50)]:
        m = eas_needed(rate, moe, deff=deff, mean_persons_per_ea=b)
        assert moe_for(m, rate, deff=deff, mean_persons_per_ea=b) <= moe < moe_for(m - 1, rate, deff=deff,
                                                                                   mean_persons_per_ea=b)
    assert moe_for(100, 0.5) == pytest.approx(1.959964 * math.sqrt(0.25 / 100), rel=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"expected_rate": 0.0, "moe": 0.01}, "expected_rate"),
    ({"expected_rate": 0.02, "moe": 0.0}, "moe"),
    ({"expected_rate": 0.02, "moe": 0.01, "deff": 0}, "deff"),
    ({"expected_rate": 0.02, "moe": 0.01, "nonresponse": 1.0}, "nonresponse"),
    ({"expected_rate": 0.02, "moe": 0.01, "confidence": 1.0}, "confidence"),
])
def test_bad_inputs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        eas_needed(**kwargs)


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    out = tmp_path_factory.mktemp("county200k")
    generate(SynthConfig(persons=200_000, seed=8), out)
    frame = pd.read_csv(out / "areas.csv", dtype=str)
    truth = pd.read_csv(out / "truth" / "areas.csv", dtype={"ea_code": str}).set_index("ea_code")
    return frame, truth


def _design(total):
    doc = yaml.safe_load(bundled_path().read_text("utf-8"))
    doc["allocation"]["total"] = total
    return parse_design(doc)


def test_calculator_answer_gives_the_target_margin_on_the_synthetic_county(county):
    """A pilot of repeated draws at 40 EAs measures the design effect of the bundled design for the
    census omission rate; the calculator, fed that design effect, sizes the sample for a 0.3-point
    margin; repeated draws of that sample give a realised margin (1.96 x the standard deviation of
    the estimates around the known truth) within 20 % of the target. Seeds are fixed: deterministic."""
    frame, truth = county
    y, x = truth["census_omitted"], truth["true_persons"]
    pilot = moe_study(_design(40), frame, y, x, range(150))
    assert 1.0 < pilot.empirical_deff < 10.0          # EA clustering of omission: deff well above 1
    target = 0.003
    calc = {"expected_rate": pilot.true_rate, "moe": target, "deff": pilot.empirical_deff}
    study = moe_study(_design(calc), frame, y, x, range(1000, 1150))
    persons_per_ea = frame["persons_listed"].astype(float).mean()
    assert study.eas == eas_needed(pilot.true_rate, target, pilot.empirical_deff, persons_per_ea,
                                   population_eas=len(frame))
    assert study.eas > 40
    assert 0.8 * target <= study.realised_moe <= 1.2 * target, study
    assert abs(study.mean_estimate - study.true_rate) < 0.25 * target       # ratio estimator ~unbiased
    assert study.coverage >= 0.85                                          # 95 % intervals hold the truth
