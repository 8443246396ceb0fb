from pathlib import Path

from audit_engine.io.format_doc import render

ROOT = Path(__file__).resolve().parents[1]


def test_data_format_doc_matches_the_column_spec():
    assert (ROOT / "docs" / "data-format.md").read_text("utf-8") == render(), \
        "regenerate: python -m audit_engine.io.format_doc > docs/data-format.md"


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text("utf-8")
    first_block = text.split("```bash", 1)[1].split("```", 1)[0]
    assert "bash scripts/dev demo" in first_block and "bash scripts/dev test" in first_block
    assert "bash scripts/dev test" in (ROOT / ".ci" / "run").read_text("utf-8")
