"""The demo runs end to end, leaves an intact ledger, and prints no personal data."""

from __future__ import annotations

import csv
import json

from click.testing import CliRunner

from audit_engine.cli.main import cli


def test_demo_end_to_end_without_personal_data(tmp_path):
    out = tmp_path / "demo"
    r = CliRunner().invoke(cli, ["demo", "--persons", "3000", "--seed", "11", "--out", str(out), "--json"],
                           catch_exceptions=False)
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    # 9 loads (census, PES, listing, register), check, quality, sample, sample verify, link
    # duplicates, link pes, estimate, link register, reconcile listing, 4 operators added, each QC
    # decision (first and four-eyes second), estimate again, the QC officer's export, 4 reports
    # and the county bulletin
    rv = data["review"]
    decisions = sum(sum(v.values()) for v in rv["decisions"].values()) + rv["four_eyes"]["checked"]
    assert rv["items"]["followup"].get("decided", 0) > 0 and rv["decisions"]["flag"]["confirmed"] > 0
    assert data["ledger"]["ok"] and data["ledger"]["entries"] == 22 + 1 + decisions + 1 + 5
    assert [rep["kind"] for rep in data["reports"]] == ["accuracy", "rules", "linkage", "enumerators", "bulletin"]
    for rep in data["reports"]:
        assert (out / "reports" / f"{rep['kind']}.zh.html").exists() and rep["path"].endswith(".zh.html")
    reg, lst = data["register"], data["listing"]
    assert reg["classes"]["registered_here"] > 0.5 * data["store_counts"]["persons"]["census"]
    # every record of an actionable class is on a review list (plus the census side of possible matches)
    assert reg["review_items"] >= sum(reg["classes"].get(c, 0) for c in
                                      ("not_enumerated", "registered_elsewhere", "no_registration"))
    assert lst["persons_listed"] > 0 and lst["review_items"] == lst["shortfall_eas"] + lst["surplus_eas"]
    assert data["export"]["rows"] > 0 and (out / "accountability.json").exists()
    assert data["check"]["flags"] > 0 and (out / "quality.json").exists()
    smp = data["sample"]
    assert smp["verified"] is True and 2 * smp["strata"] <= smp["units"] < smp["frame_units"]
    assert data["link"]["matches"] > 0.9 * data["link"]["pes_persons"]
    om = data["estimate"]["overall"]["omission"]
    assert 0 <= om["ci_low"] <= om["value"] <= om["ci_high"] < 0.2
    with open(out / "data" / "census" / "persons.csv", encoding="utf-8") as f:
        persons = list(csv.DictReader(f))
    assert data["store_counts"]["persons"]["census"] == len(persons)
    text = (r.output + (out / "quality.json").read_text("utf-8")
            + "".join(p.read_text("utf-8") for p in (out / "reports").glob("*.html")))
    second = CliRunner().invoke(cli, ["demo", "--persons", "3000", "--seed", "11", "--out", str(out)])
    assert second.exit_code == 0 and second.output.rstrip().splitlines()[-1] == (
        f"accuracy report: {out / 'reports' / 'accuracy.zh.html'}")
    text += second.output
    for p in persons:
        assert p["id_number"] == "" or p["id_number"] not in text
        assert len(p["name"]) < 2 or p["name"] not in text
    # a second run replaces its own previous demo folder; a foreign folder is refused
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep", encoding="utf-8")
    r = CliRunner().invoke(cli, ["demo", "--persons", "300", "--out", str(other)])
    assert r.exit_code == 2 and (other / "notes.txt").exists()
