"""Report texts in Chinese and English, as data.

Each report has its own message file (``reports/messages/<name>.yaml``: key -> {zh, en}),
``common.yaml`` holds what they share. Lookups are strict: a missing key or language is an
error at render time, never a silently blank heading, and a test renders every report in
both languages.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

LANGS = ("zh", "en")


class MessageError(KeyError):
    """A report asked for a text that its message file does not have."""


@cache
def catalogue(name: str, package: str = "reports") -> dict[str, dict[str, str]]:
    """The messages of one file (``common``, ``accuracy``, …) of ``package``'s ``messages``
    folder (the reports', or the web application's), checked to have both languages."""
    text = resources.files(package).joinpath("messages", f"{name}.yaml").read_text("utf-8")
    data = yaml.safe_load(text) or {}
    for key, texts in data.items():
        missing = [lang for lang in LANGS if not isinstance(texts, dict) or lang not in texts]
        if missing:
            raise MessageError(f"{package}/messages/{name}.yaml: {key}: no text for {', '.join(missing)}")
    return data


class Translator:
    """``t("accuracy.title")`` -> the text in the report's language; ``{name}`` placeholders
    are filled from keyword arguments."""

    def __init__(self, lang: str, package: str = "reports") -> None:
        if lang not in LANGS:
            raise ValueError(f"language must be one of {', '.join(LANGS)}, got {lang!r}")
        self.lang = lang
        self.package = package

    def __call__(self, key: str, **values: Any) -> str:
        name, _, item = key.partition(".")
        messages = catalogue(name, self.package)
        if item not in messages:
            raise MessageError(f"{self.package}/messages/{name}.yaml has no {item!r}")
        text = messages[item][self.lang]
        return text.format(**values) if values else text
