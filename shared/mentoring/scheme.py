"""Scheme definitions as data: a YAML file a scheme, validated here at load time.

A new scheme is a new file in ``mentoring/schemes/``, never a new code path.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mentoring.models import Role

SCHEMES_DIR = Path(__file__).parent / "schemes"


class Definition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnswerIn(Definition):
    """The applicant's self-identification answer to ``question`` is one of ``values``."""

    kind: Literal["answer_in"]
    question: Literal["minority_ethnic_background"]
    values: tuple[str, ...]
    passed: str
    failed: str


class GradeBetween(Definition):
    kind: Literal["grade_between"]
    min: int = Field(ge=1, le=10)
    max: int = Field(ge=1, le=10)
    passed: str
    failed: str


class InstitutionIn(Definition):
    """The applicant works at one of the scheme's institutions."""

    kind: Literal["institution_in"]
    passed: str
    failed: str


EligibilityRule = Annotated[AnswerIn | GradeBetween | InstitutionIn, Field(discriminator="kind")]


class PairingRule(Definition):
    """A hard rule every pair must satisfy; matching records the rule's kind for each pair it excludes."""

    kind: Literal["different_institution", "different_department", "mentor_grade_above"]
    description: str


class ScoringCriterion(Definition):
    """Score of a pair: weight x number of shared tags between the mentee's and the mentor's field."""

    criterion: str
    mentee_field: Literal["skills", "career_goals"]
    mentor_field: Literal["skills", "career_goals"]
    weight: float = Field(gt=0)
    label: str


class RoleDefinition(Definition):
    label: str
    description: str
    eligibility: tuple[EligibilityRule, ...] = ()


class TrainingSession(Definition):
    role: Role
    title: str
    starts_at: datetime
    ends_at: datetime


class Scheme(Definition):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    summary: str
    institutions: dict[str, str] = Field(min_length=1)
    roles: dict[Role, RoleDefinition]
    pairing_rules: tuple[PairingRule, ...] = ()
    scoring: tuple[ScoringCriterion, ...] = ()
    mentor_capacity_max: int = Field(default=1, ge=1, le=10)
    max_mentees: int = Field(ge=1)
    training: tuple[TrainingSession, ...] = ()


class SchemeDefinitionError(ValueError):
    """A scheme file that cannot be used; the message names the file, the field and the problem."""


def load_scheme_file(path: Path) -> Scheme:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Scheme.model_validate(raw)
    except yaml.YAMLError as error:
        raise SchemeDefinitionError(f"{path.name}: not valid YAML: {error}") from error
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors()
        )
        raise SchemeDefinitionError(f"{path.name}: {problems}") from error


@cache
def load_schemes(directory: Path = SCHEMES_DIR) -> dict[str, Scheme]:
    """Every scheme in ``directory``, by id; loaded once a process (a Lambda cold start)."""
    schemes: dict[str, Scheme] = {}
    for path in sorted(directory.glob("*.yaml")):
        scheme = load_scheme_file(path)
        if scheme.id in schemes:
            raise SchemeDefinitionError(f"{path.name}: id: {scheme.id!r} is already defined by another file")
        schemes[scheme.id] = scheme
    return schemes


def get_scheme(scheme_id: str) -> Scheme:
    try:
        return load_schemes()[scheme_id]
    except KeyError:
        raise LookupError(f"no scheme with id {scheme_id!r}") from None
