"""Institutions and their grading systems, mapped onto one common 1-10 scale.

Grading systems vary between institutions; a scheme's rule such as "mentees at grade 5-7" is written
once on the common scale and holds at every partner. The mapping is data (``institutions.yaml``),
kept by the coordinators of the partner universities.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from mentoring.sources import Basis

INSTITUTIONS_FILE = Path(__file__).parent / "institutions.yaml"

GradeLabel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]


class Institution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    grade_system: str = Field(min_length=1, description="How the institution names its grades, for people.")
    grades: dict[GradeLabel, Annotated[int, Field(ge=1, le=10)]] = Field(
        min_length=1, description="Each of the institution's own grades and its place on the common scale."
    )
    source: Basis = Field(
        description="Where the grades and their equivalence come from: a source's words, or this "
        "project's default until the institution's HR team confirms it."
    )

    def common_grade(self, grade: str) -> int | None:
        """The grade on the common scale; matching is case- and space-insensitive."""
        wanted = " ".join(grade.split()).casefold()
        for label, level in self.grades.items():
            if " ".join(label.split()).casefold() == wanted:
                return level
        return None


class InstitutionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    institutions: dict[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,10}$")], Institution]


class InstitutionsDefinitionError(ValueError):
    """The institutions file cannot be used; the message names the file, the field and the problem."""


@cache
def load_institutions(path: Path = INSTITUTIONS_FILE) -> dict[str, Institution]:
    try:
        return InstitutionsFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).institutions
    except yaml.YAMLError as error:
        raise InstitutionsDefinitionError(f"{path.name}: not valid YAML: {error}") from error
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors()
        )
        raise InstitutionsDefinitionError(f"{path.name}: {problems}") from error


def institution_name(code: str | None) -> str:
    if code is None:
        return "(no institution given)"
    known = load_institutions().get(code)
    return known.name if known else code


def common_grade(code: str | None, grade: str) -> int | None:
    """``grade`` at institution ``code`` on the common scale, or None when either is unknown."""
    institution = load_institutions().get(code or "")
    return institution.common_grade(grade) if institution else None
