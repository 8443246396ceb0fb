"""Settings for the two census uses of the linkage core, on person tables as in docs/data-format.md.

* :func:`pes_census_settings` — which census person is each PES person (``link(pes, census, ...)``);
* :func:`duplicate_settings` — duplicate records within the census (``dedupe(census, ...)``).

Blocking keys derived from the raw columns (pinyin of surname and given name, birth year, the
ID number's birth segment) are added by :func:`person_keys`, which both tables must go through
first. :func:`truth_scores` measures a result against the synthetic county's truth
(``truth/records.csv``, docs/synthetic-data.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit_engine.linkage.blocking import rule
from audit_engine.linkage.chinese import _GIVEN_PY, _SUR_PY, name_keys, year_months
from audit_engine.linkage.compare import ComparisonSpec
from audit_engine.linkage.evaluate import Scores, score_pairs
from audit_engine.linkage.pipeline import LinkResult, LinkSettings

__all__ = ["DUPLICATE_ID_M", "KEY_COLUMNS", "duplicate_settings", "pes_census_settings", "person_keys", "truth_scores"]

#: m of the ID-number levels for duplicates (both valid and different / else / adjacent digits
#: transposed / one character differs / exact) — a stated prior, not fitted. GB 11643's check
#: digit catches every miswritten digit and adjacent transposition, so one person with two
#: valid different numbers takes two errors that both pass the check, or two registrations
#: (put at 1 in 1,000). The other levels: about 1 % of duplicate pairs with a transposition and
#: 1.5 % with one wrong character (the synthetic error profile writes a wrong digit in 0.4 % and
#: transposes in 0.3 % of records, so twice that per pair, more under a poor enumerator). An
#: office sets these from its own quality checks (``duplicate_settings(fixed_m=...)``).
DUPLICATE_ID_M = (0.001, 0.005, 0.01, 0.015, 0.969)

#: columns :func:`person_keys` adds
KEY_COLUMNS = ("surname_py", "given_py", "name_py", "birth_year", "id_key", "id_birth")


def person_keys(persons: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``persons`` with the derived blocking keys (nulls where the source is missing):

    ``surname_py`` / ``given_py`` / ``name_py`` toneless pinyin of surname, given name, both
    (homophones share them); ``birth_year`` from ``birth_ym``; ``id_key`` the ID number stripped
    and upper-cased; ``id_birth`` its positions 7–14 (18-character numbers only).
    """
    out = persons.copy()
    keys = name_keys(persons["name"].to_numpy(dtype=object))
    sur, given = pd.Series(keys[:, _SUR_PY], index=out.index), pd.Series(keys[:, _GIVEN_PY], index=out.index)
    out["surname_py"] = sur
    out["given_py"] = given.mask(given == "")
    out["name_py"] = _name_py(keys[:, _SUR_PY], keys[:, _GIVEN_PY], out.index)
    ym = year_months(persons["birth_ym"].to_numpy(dtype=object))
    out["birth_year"] = pd.array(np.where(np.isnan(ym), np.nan, np.floor(ym / 12)), dtype="Int64")
    raw = persons["id_number"].to_numpy(dtype=object)
    if pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        # Python's str methods once per record, as the pandas string methods below call them
        txt = [v.strip().upper() if isinstance(v, str) else None for v in raw]
        txt = [t if t else None for t in txt]
        ids = pd.Series(pd.array(txt, dtype="string"), index=out.index)
        birth = [t[6:14] if t is not None and len(t) == 18 else None for t in txt]
        out["id_key"] = ids
        out["id_birth"] = pd.Series(pd.array(birth, dtype="string"), index=out.index)
        return out
    ids = persons["id_number"].astype("string").str.strip().str.upper()
    ids = ids.mask(ids == "")
    out["id_key"] = ids
    out["id_birth"] = ids.str.slice(6, 14).where(ids.str.len() == 18)
    return out


def _name_py(sur: np.ndarray, given: np.ndarray, index: pd.Index) -> pd.Series:
    """``surname_py|given_py`` where both are present and the given name is not blank, else NaN
    (as ``(sur + "|" + given).where(...)`` on object Series), joined once per distinct pair."""
    ok = ~(pd.isna(sur) | pd.isna(given)) & (given != "")
    out = np.full(len(sur), np.nan, dtype=object)
    if ok.any():
        sc, su = pd.factorize(sur[ok])
        gc, gu = pd.factorize(given[ok])
        first, pair = pd.factorize(sc.astype(np.int64) * len(gu) + gc)
        joined = np.fromiter((su[p // len(gu)] + "|" + gu[p % len(gu)] for p in pair), dtype=object,
                             count=len(pair))
        out[ok] = joined[first]
    return pd.Series(out, index=index)


def _person_comparisons(*, relationship: bool, area: bool, id_levels: bool) -> list[ComparisonSpec]:
    if id_levels:
        id_spec = ComparisonSpec("id_number", "citizen_id", "id_number", params={"birth_segment": False})
    else:
        id_spec = ComparisonSpec("id_number", "citizen_id", "id_number",
                                 params={"birth_segment": False, "valid_split": True})
    specs = [
        ComparisonSpec("name", "chinese_name", "name", tf=True),
        id_spec,
        ComparisonSpec("sex", "exact", "sex"),
        ComparisonSpec("birth_ym", "birth_ym", "birth_ym", params={"years": (1, 2)}),
        ComparisonSpec("ethnicity", "exact", "ethnicity", tf=True),
    ]
    if relationship:
        specs.append(ComparisonSpec("relationship", "exact", "relationship"))
    if area:
        specs.append(ComparisonSpec("ea_code", "exact", "ea_code"))
    return specs


def pes_census_settings(**overrides) -> LinkSettings:
    """PES persons (left) ↔ census persons (right), both through :func:`person_keys`.

    Blocking (union): same EA and surname pinyin (the PES revisits the census's EAs, and most
    persons keep their surname's sound whatever the characters); same ID number; same given-name
    pinyin and birth year (a surname miswritten, a move between EAs); same ID birth segment and
    surname pinyin (an ID typo outside the birth date); same EA and birth year-month (a name
    changed beyond its sound). PES households are numbered independently of the census's
    (docs/synthetic-data.md), so there is no shared household key to block on; within an EA the
    first rule already holds each household's members.

    Comparisons: name (:func:`~audit_engine.linkage.chinese.chinese_name`, tf), ID number
    (``citizen_id`` without its "birth segment agrees only" level: against a 1,000,000-person
    search area that level linked 337 PES persons missing from the census to a namesake-surname
    born the same day elsewhere, precision 0.9933; without it 1.0000), sex, birth year-month (``birth_ym``, within 1 and 2 years for age heaping),
    ethnicity (tf: agreeing on a minority counts more than on Han), relationship to the head,
    EA. ``overrides`` replace any :class:`LinkSettings` field (``target_fmr=...``).
    """
    rules = (
        rule("ea_code", "surname_py"),
        rule("id_key"),
        rule("given_py", "birth_year"),
        rule("id_birth", "surname_py"),
        rule("ea_code", "birth_ym"),
    )
    settings = dict(rules=rules, comparisons=_person_comparisons(relationship=True, area=True, id_levels=True),
                    expected_share=0.95, target_fmr=0.001)
    settings.update(overrides)
    return LinkSettings(**settings)


def duplicate_settings(**overrides) -> LinkSettings:
    """Duplicate person records within the census (one table through :func:`person_keys`).

    A duplicate is the same person enumerated twice, typically at home and again at the place of
    registration in another committee, so neither EA, household nor relationship is shared:
    blocking is on the person — same ID number; same name pinyin and birth year; same given-name
    pinyin and birth year-month; same ID birth segment and surname pinyin — and the comparisons
    leave out EA and relationship. No one-to-one step (a person may be listed three times).

    The ID number is compared by ``citizen_id`` without its "birth segment agrees only" level
    and with "else" split by the check digit (``valid_split``): duplicates are rare (about 100
    in a 20,000-person census), and with so few matches among the candidates EM took the birth
    segment level — different persons born the same day, evidence birth year-month already
    carries — for match evidence (m 0.07–0.7), linking namesakes born the same day (precision
    0.41–0.99 on the synthetic county). Without the check-digit split, two *valid* different
    numbers counted as no evidence either way, and at 1,000,000 persons namesakes born the same
    month were linked (precision 0.980); two valid different numbers are two persons.

    Even so, EM let its "match" class become "namesakes" (m of *both valid, different* 0.95):
    among 1.5 million candidate pairs 5,600 duplicates are too few for it to tell the two
    mixtures apart on the ID. The ID number's m is a property of how enumerators record
    numbers, not of this census's duplicates, so it is held fixed at :data:`DUPLICATE_ID_M`
    (override with ``fixed_m=``) while EM fits the other comparisons' m and λ.
    """
    rules = (
        rule("id_key"),
        rule("name_py", "birth_year"),
        rule("given_py", "birth_ym"),
        rule("id_birth", "surname_py"),
    )
    settings = dict(rules=rules, comparisons=_person_comparisons(relationship=False, area=False, id_levels=False),
                    expected_share=0.01, target_fmr=0.001, fixed_m={"id_number": DUPLICATE_ID_M})
    settings.update(overrides)
    return LinkSettings(**settings)


def _true_ids(table: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Per record of ``table`` (its ``person_id`` column) the true person id, ``None`` if none."""
    t = truth.astype({"person_id": str})
    true = t["true_person_id"].astype("string")
    lookup = pd.Series(true.mask(true.str.strip() == "").to_numpy(), index=t["person_id"].to_numpy())
    if lookup.index.has_duplicates:  # census and PES ids never clash in the generator; be safe
        lookup = lookup[~lookup.index.duplicated()]
    return lookup.reindex(table["person_id"].astype(str).to_numpy()).to_numpy(dtype=object, na_value=None)


def truth_scores(result: LinkResult, left: pd.DataFrame, right: pd.DataFrame | None,
                 truth: pd.DataFrame) -> Scores:
    """Precision / recall of ``result`` against the synthetic truth (``truth/records.csv``).

    Records are matched to the truth by ``person_id``; a record with no true person (fictitious)
    matches nothing.

    *Link* (``right`` given, one-to-one): a link is right when both records are the same true
    person. A left (PES) record *should* link when its true person has any record in ``right``;
    since one-to-one lets it link once, a census duplicate does not make it two matches. So
    TP = right links, FP = other links, FN = left records that should link and have no right
    link — the PES's own "matched / not matched" status, which is what the estimate uses.

    *Dedup* (``right`` None): true pairs are all pairs of records of one true person; scored as
    pairs (:func:`~audit_engine.linkage.evaluate.score_pairs`).
    """
    links = result.links()
    lt = _true_ids(left, truth)
    if right is None:
        codes, uniq = pd.factorize(pd.Series(lt, dtype=object), use_na_sentinel=True)
        order = np.argsort(codes, kind="stable")
        order = order[codes[order] >= 0]
        c = codes[order]
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        sizes = np.diff(np.r_[starts, len(c)])
        tl, tr = [], []
        for s, n in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
            grp = order[s:s + n]
            i, j = np.triu_indices(n, 1)
            tl.append(grp[i])
            tr.append(grp[j])
        tl = np.concatenate(tl) if tl else np.empty(0, np.int64)
        tr = np.concatenate(tr) if tr else np.empty(0, np.int64)
        return score_pairs(links["left"].to_numpy(), links["right"].to_numpy(), tl, tr, dedup=True)
    rt = _true_ids(right, truth)
    a, b = lt[links["left"].to_numpy()], rt[links["right"].to_numpy()]
    good = np.array([x is not None and x == y for x, y in zip(a, b, strict=True)], dtype=bool)
    in_right = set(x for x in rt if x is not None)
    should = np.array([x is not None and x in in_right for x in lt], dtype=bool)
    correct_left = np.zeros(len(left), dtype=bool)
    correct_left[links["left"].to_numpy()[good]] = True
    tp = int(good.sum())
    return Scores(tp, len(links) - tp, int((should & ~correct_left).sum()))
