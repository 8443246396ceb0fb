"""Read-only access to the bundled census code lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class CodeList:
    """One coded census item: its codes in order, with Chinese and English labels."""

    name: str
    title: dict[str, str]
    labels: dict[str, dict[str, str]]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.labels)

    def __contains__(self, code: object) -> bool:
        return code in self.labels

    def label(self, code: str, lang: str = "zh") -> str:
        return self.labels[code][lang]


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("audit_engine.codes").joinpath("census_codes.yaml").read_text("utf-8")
    return yaml.safe_load(text)


@cache
def code_lists() -> dict[str, CodeList]:
    """All code lists by name."""
    out: dict[str, CodeList] = {}
    for name, body in _raw()["lists"].items():
        extra = {k: v for k, v in body.items() if k not in ("title", "codes")}
        labels = {str(k): v for k, v in body["codes"].items()}
        out[name] = CodeList(name=name, title=body["title"], labels=labels, extra=extra)
    return out


def code_list(name: str) -> CodeList:
    """One code list; ``KeyError`` names the list when it does not exist."""
    try:
        return code_lists()[name]
    except KeyError:
        raise KeyError(f"no census code list named {name!r}") from None


def label(list_name: str, code: str, lang: str = "zh") -> str:
    return code_list(list_name).label(code, lang)


def standard_time() -> datetime:
    """The census standard time, 2020-11-01 00:00."""
    return datetime.fromisoformat(_raw()["standard_time"])


def legal_marriage_age() -> dict[str, int]:
    return dict(_raw()["legal_marriage_age"])
