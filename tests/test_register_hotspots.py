"""Omission hot spots: the register's not-found rate and the PES omission rate by village,
with their rank agreement — hand-worked."""

from __future__ import annotations

import pandas as pd
import pytest

from audit_engine.register.hotspots import agreement, village_rates

V = ["320831001001", "320831001002", "320831002001", "320831002002"]


def _register(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """village -> (found in the census, not found); plus records that must not count."""
    rows = []
    for v, (found, missing) in counts.items():
        rows += [{"address_code": v, "cls": "registered_here"}] * found
        rows += [{"address_code": v, "cls": "not_enumerated"}] * missing
    rows += [{"address_code": V[0], "cls": "moved_out"}, {"address_code": V[0], "cls": "deceased"},
             {"address_code": "320831001", "cls": "not_enumerated"}]   # township-level address: no village
    return pd.DataFrame(rows)


def test_village_rates_and_agreement_by_hand():
    reg = _register({V[0]: (90, 10), V[1]: (95, 5), V[2]: (80, 20), V[3]: (99, 1)})
    pes = pd.DataFrame({"unit": [V[0] + "001", V[0] + "002", V[1] + "001", V[2] + "001", V[3] + "001"],
                        "p_persons": [100, 100, 200, 100, 300], "omitted": [2, 4, 2, 8, 0]})
    out = village_rates(reg, pes).set_index("village")
    # the register: 10 of 100, 5 of 100, 20 of 100, 1 of 100 live registrations not found
    assert out.loc[V[0], ["registered", "not_enumerated"]].tolist() == [100, 10]
    assert out.loc[V[2], "register_rate"] == pytest.approx(0.20)
    # the PES: the village's sample EAs summed: (2 + 4) / 200
    assert out.loc[V[0], ["pes_eas", "p_persons", "omitted"]].tolist() == [2, 200, 6]
    assert out.loc[V[0], "pes_rate"] == pytest.approx(0.03)
    assert list(out.index) == [V[2], V[0], V[1], V[3]]      # worst register rate first
    a = agreement(out.reset_index())
    # ranks: register 0.10, 0.05, 0.20, 0.01 -> 3, 2, 4, 1; PES 0.03, 0.01, 0.08, 0.0 -> 3, 2, 4, 1
    assert a["villages"] == 4 and a["spearman"] == pytest.approx(1.0)
    assert a["top_quartile"] == 1 and a["top_quartile_shared"] == 1


def test_disagreement_and_too_few_villages():
    reg = _register({V[0]: (90, 10), V[1]: (95, 5), V[2]: (80, 20)})
    pes = pd.DataFrame({"unit": [V[0] + "001", V[1] + "001", V[2] + "001"],
                        "p_persons": [100, 100, 100], "omitted": [2, 3, 1]})
    a = agreement(village_rates(reg, pes))
    # register ranks 2, 1, 3 against PES ranks 2, 3, 1: rho = 1 - 6 * (0 + 4 + 4) / (3 * 8) = -1
    assert a["spearman"] == pytest.approx(-1.0) and a["top_quartile_shared"] == 0
    assert agreement(village_rates(reg, pes.head(2))) is None
    # without a PES run: the register's side only
    only = village_rates(reg, None)
    assert only["pes_eas"].eq(0).all() and only["pes_rate"].isna().all()
