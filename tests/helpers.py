"""Small hand-made input files for loader tests (independent of the synthetic generator)."""

from __future__ import annotations

from audit_engine.codes import citizen_id
from audit_engine.io.columns import header_names

PERSON = dict(
    person_id="P0001", household_id="H001", ea_code="320831100001001", line_no="1", name="张伟",
    id_number=citizen_id.make("320831", "19900115", 123), sex="1", birth_ym="1990-01", age="30",
    ethnicity="01", relationship="0", education="5", industry="C", occupation="6", registration_type="1",
    registration_place="", time_away="0", reason_away="", marital_status="2", children_born="",
    children_surviving="", births_last_year="", enumerator_id="E01",
)


def person_rows(n: int, **overrides) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        r = dict(PERSON, person_id=f"P{i:05d}", household_id=f"H{i // 3:04d}", line_no=str(i % 3 + 1))
        r.update(overrides)
        rows.append(r)
    return rows


def csv_bytes(rows: list[dict[str, str]], encoding: str = "utf-8", header: list[str] | None = None) -> bytes:
    header = header or header_names("persons")
    lines = [",".join(header)] + [",".join(r.get(h, "") for h in header_names("persons")) for r in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


#: a synthetic county's files in load order: reference, census, PES
COUNTY_FILES = (("areas.csv", "reference", "areas"), ("enumerators.csv", "reference", "enumerators"),
                ("census/households.csv", "census", "households"), ("census/persons.csv", "census", "persons"),
                ("census/deaths.csv", "census", "deaths"), ("pes/households.csv", "pes", "households"),
                ("pes/persons.csv", "pes", "persons"))
#: reference and census only
CENSUS_FILES = COUNTY_FILES[:5]


def load_county(engine, folder, files=COUNTY_FILES, operator: str = "test.loader") -> None:
    """Load a synthetic county's files (``files``: (relative path, source, kind)) into the store."""
    from audit_engine.io.load import load_file

    for rel, source, kind in files:
        load_file(engine, folder / rel, source, operator=operator, kind=kind)


class _FigureParser:
    """Collects every ``data-fig`` element of a report: key -> (exact value, text shown)."""

    def __init__(self) -> None:
        from html.parser import HTMLParser

        outer = self
        self.figures: dict[str, tuple[float | int | None, str]] = {}
        self.duplicates: list[str] = []

        class P(HTMLParser):
            stack: list[tuple[str, str | None, list[str]]] = []

            def handle_starttag(self, tag, attrs):
                a = dict(attrs)
                if "data-fig" in a:
                    self.stack.append((a["data-fig"], a.get("data-value"), []))

            def handle_data(self, data):
                for _, _, buf in self.stack:
                    buf.append(data)

            def handle_endtag(self, tag):
                if tag == "span" and self.stack:
                    key, value, buf = self.stack.pop()
                    v = None if not value else (int(value) if value.lstrip("-").isdigit() else float(value))
                    if key in outer.figures and outer.figures[key] != (v, "".join(buf)):
                        outer.duplicates.append(key)
                    outer.figures[key] = (v, "".join(buf))

        self.parser = P()


def report_figures(html: str) -> dict[str, tuple[float | int | None, str]]:
    """Every figure of a report (see ``reports.render.fig``): key -> (exact value, text shown).
    A key shown twice with different values is an error."""
    p = _FigureParser()
    p.parser.feed(html)
    assert not p.duplicates, f"figures shown twice with different values: {p.duplicates[:5]}"
    return p.figures


def shown(value: float | None, kind: str = "pct", digits: int | None = None) -> str:
    """The text a report shows for a value (the same formatting as reports.render)."""
    from reports.render import num, pct

    d = digits if digits is not None else (2 if kind == "pct" else 0)
    return pct(value, d) if kind == "pct" else num(value, d)


def assert_figures(html: str, expected: dict, *, float_rel: float = 0.0) -> None:
    """The report shows exactly the ``expected`` figures (key -> (value, text)), no more.

    Values are equal to the digit; ``float_rel`` > 0 lets two floats differ by that relative
    amount (for figures the report and the test reach by different sums of the same numbers)."""
    import pytest

    figs = report_figures(html)
    missing = sorted(set(expected) - set(figs))
    assert not missing, missing[:10]
    for key, (value, text) in expected.items():
        got_value, got_text = figs[key]
        if float_rel and isinstance(value, float) and isinstance(got_value, float):
            ok = got_value == pytest.approx(value, rel=float_rel, abs=1e-12)
        else:
            ok = got_value == value
        assert ok and got_text == text, (key, figs[key], value, text)
    extra = sorted(set(figs) - set(expected))
    assert not extra, extra[:10]


def count_rows(engine, model, **where) -> int:
    """Rows of ``model`` whose columns equal the given values."""
    from sqlalchemy import func, select

    stmt = select(func.count()).select_from(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar())


def copy_store(pipeline_store, folder):
    """An engine over a private copy of the session's pipeline store (tests that write to it)."""
    import shutil

    from audit_engine.store import make_engine

    source, _ = pipeline_store
    db = folder / "store.db"
    shutil.copy(source / "census_audit.db", db)
    return make_engine(f"sqlite:///{db}")


def copy_county_store(spark_county, folder):
    """An engine over a private copy of the ``spark_county`` fixture's store (tests that write)."""
    import shutil

    from audit_engine.store import make_engine

    _, url, _ = spark_county
    db = folder / "store.db"
    shutil.copy(url.removeprefix("sqlite:///"), db)
    return make_engine(f"sqlite:///{db}")
