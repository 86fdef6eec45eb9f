"""Where a scheme's rules and figures come from: the public page of the scheme, quoted, or this
project's own default, said as such so that a coordinator knows what to confirm.

The source documents themselves are not shipped (they are the universities' pages); in
development they are in ``/work/shared/sources`` (or ``MENTORING_SOURCES_DIR``), and a test
checks that every quote is the document's own words.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

SOURCES_DIR_VARIABLE = "MENTORING_SOURCES_DIR"


class Basis(BaseModel):
    """Where a rule or figure comes from: a short quote of the scheme's source document, or this
    project's default for the coordinator to confirm; both when the source says part of it (a
    celebration) and the project adds the rest (its date)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quote: str = Field(default="", description="The source's own words, verbatim.")
    default: str = Field(
        default="",
        description="What this project chose where the source is silent, for the coordinator to confirm.",
    )

    @model_validator(mode="after")
    def _something(self) -> Basis:
        if not (self.quote.strip() or self.default.strip()):
            raise ValueError("give the source's words (quote) or say it is this project's default (default)")
        return self

    @property
    def is_default(self) -> bool:
        return bool(self.default.strip())

    def describe(self) -> str:
        """One line for people: the quote in quotation marks, then what the project adds."""
        parts = []
        if self.quote.strip():
            parts.append(f"\u201c{' '.join(self.quote.split())}\u201d")
        if self.default.strip():
            parts.append(f"project default: {' '.join(self.default.split())}")
        return "; ".join(parts)


class SourceDocument(BaseModel):
    """The public page a definition is traced to, by its file name among the source documents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.txt$")
    title: str
    publisher: str


_PLAIN: dict[str, str | int | None] = {
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u00a0": " ",
}  # fmt: skip


def normalised(text: str) -> str:
    """Text compared as people read it: one kind of quotation mark and dash, spaces collapsed."""
    return re.sub(r"\s+", " ", text.translate(str.maketrans(_PLAIN))).strip().casefold()


def sources_directory(repository: Path | None = None) -> Path | None:
    """Where the source documents are, when this machine has them."""
    configured = os.environ.get(SOURCES_DIR_VARIABLE)
    candidates = [Path(configured)] if configured else []
    if repository is not None:
        candidates.append(repository.parent / "shared" / "sources")
    candidates.append(Path("/work/shared/sources"))
    return next((c for c in candidates if (c / "README.md").is_file()), None)
