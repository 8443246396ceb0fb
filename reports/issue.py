"""Issue a report: gather the stored figures, render, write, and record the file's SHA-256 in
the ledger, so anyone holding the file can later prove it is the one issued (and by whom, from
which runs: ``census-audit report verify FILE``).

Each kind is a module of this package with ``TEMPLATE`` and ``gather(engine, lang, **options)``
returning the template's context; ``gather`` reads only stored results (run summaries,
estimates, flags, decisions) and aggregates, never a record's name or ID number. Its context
carries ``runs``: the run ids its figures come from, which the report prints and the ledger
entry keeps.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from audit_engine.ledger import append, head
from audit_engine.ledger.store import code_version
from audit_engine.store.models import LedgerEntry, Run
from reports.charts import chart_lang
from reports.render import render

#: kind -> module (imported when used)
KINDS: dict[str, str] = {
    "accuracy": "reports.accuracy",
    "rules": "reports.rules_report",
    "linkage": "reports.linkage",
    "enumerators": "reports.enumerators",
}
#: kinds issued on their own, not by ``report all`` nor the demo (the supervision bulletin:
#: one for the county and, with the option ``township``, one per township)
OTHER_KINDS: dict[str, str] = {"bulletin": "reports.bulletin"}
ALL_KINDS: dict[str, str] = {**KINDS, **OTHER_KINDS}


class ReportError(RuntimeError):
    """The store lacks what a report needs (no estimate run yet, say); the message says which
    command to run first."""


@dataclass(frozen=True)
class Issued:
    kind: str
    lang: str
    path: Path
    sha256: str
    bytes: int
    ledger_seq: int
    pdf: Path | None = None
    pdf_sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path), "pdf": str(self.pdf) if self.pdf else None}


def run_info(engine: Engine, run_ids: dict[str, int | None]) -> list[dict[str, Any]]:
    """For the report's provenance table: each run's kind, operator and finish time."""
    ids = [r for r in run_ids.values() if r is not None]
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(Run.id, Run.kind, Run.operator, Run.finished_at)
                                              .where(Run.id.in_(ids)))} if ids else {}
    out = []
    for role, rid in run_ids.items():
        r = rows.get(rid)
        out.append({"role": role, "run_id": rid, "kind": r.kind if r else None, "operator": r.operator if r else None,
                    "finished_at": r.finished_at.strftime("%Y-%m-%d %H:%M") if r and r.finished_at else None})
    return out


def build(engine: Engine, kind: str, *, lang: str = "zh", operator: str,
          options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The report's HTML and its context (no file written, no ledger entry)."""
    if kind not in ALL_KINDS:
        raise ValueError(f"report kind must be one of {', '.join(ALL_KINDS)}, got {kind!r}")
    module = importlib.import_module(ALL_KINDS[kind])
    context = module.gather(engine, lang, **(options or {}))
    seq, head_hash = head(engine)
    now = datetime.now(UTC)
    township = (options or {}).get("township")
    context["meta"] = {
        "kind": kind, "lang": lang, "file": f"{kind}-{township}.{lang}.html" if township else f"{kind}.{lang}.html",
        "chart_lang": chart_lang(lang), "operator": operator,
        "generated_at": now.strftime("%Y-%m-%d %H:%M UTC"), "ledger_seq": seq, "ledger_head": head_hash,
        "code_version": code_version(), "runs": run_info(engine, context.get("runs", {})),
    }
    return render(module.TEMPLATE, context, lang), context


def issue(engine: Engine, kind: str, out_dir: str | Path, *, lang: str = "zh", operator: str,
          options: dict[str, Any] | None = None, pdf: bool = False) -> Issued:
    """Render the report into ``out_dir/<kind>.<lang>.html`` (``<kind>-<township>.<lang>.html``
    with the option ``township``; and, with ``pdf``, print it to ``.pdf`` with Chromium) and
    append the file hashes to the ledger."""
    html, context = build(engine, kind, lang=lang, operator=operator, options=options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / context["meta"]["file"]
    data = html.encode("utf-8")
    tmp = path.with_suffix(".html.part")
    tmp.write_bytes(data)
    tmp.replace(path)                    # never a half-written report under the real name
    sha = hashlib.sha256(data).hexdigest()
    pdf_path, pdf_sha = None, None
    if pdf:
        from reports.pdf import PdfUnavailable, print_pdf

        try:
            pdf_path = print_pdf(path, path.with_suffix(".pdf"))
        except PdfUnavailable as exc:
            raise ReportError(str(exc)) from exc
        pdf_sha = hashlib.sha256(pdf_path.read_bytes()).hexdigest()
    entry = append(engine, operator=operator, command="report",
                   params={"kind": kind, "lang": lang, "runs": {**context.get("runs", {}),
                                                                **context.get("other_runs", {})},
                           "options": _plain(options or {}), "ledger_head_shown": context["meta"]["ledger_head"]},
                   result={"file": path.name, "sha256": sha, "bytes": len(data),
                           **({"pdf": pdf_path.name, "pdf_sha256": pdf_sha} if pdf_path else {})})
    return Issued(kind, lang, path, sha, len(data), entry.seq, pdf_path, pdf_sha)


def find_issued(engine: Engine, sha256: str) -> dict[str, Any] | None:
    """The ledger entry that issued a report (HTML or PDF) with this SHA-256, or None."""
    with engine.connect() as conn:
        rows = conn.execute(select(LedgerEntry.seq, LedgerEntry.ts, LedgerEntry.operator, LedgerEntry.params,
                                   LedgerEntry.result).where(LedgerEntry.command == "report")
                            .order_by(LedgerEntry.seq)).all()
    for r in rows:
        result = json.loads(r.result)
        if sha256 in (result.get("sha256"), result.get("pdf_sha256")):
            return {"seq": r.seq, "ts": r.ts, "operator": r.operator, "params": json.loads(r.params), **result}
    return None


def _plain(options: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(options, default=str))
