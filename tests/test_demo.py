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
    # 7 loads, check, quality, sample, sample verify, link duplicates, link pes, estimate,
    # 3 operators added, the QC officer's export
    assert data["ledger"]["ok"] and data["ledger"]["entries"] == 18
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
            + CliRunner().invoke(cli, ["demo", "--persons", "3000", "--seed", "11", "--out", str(out)]).output)
    for p in persons:
        assert p["id_number"] == "" or p["id_number"] not in text
        assert len(p["name"]) < 2 or p["name"] not in text
    # a second run replaces its own previous demo folder; a foreign folder is refused
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep", encoding="utf-8")
    r = CliRunner().invoke(cli, ["demo", "--persons", "300", "--out", str(other)])
    assert r.exit_code == 2 and (other / "notes.txt").exists()
