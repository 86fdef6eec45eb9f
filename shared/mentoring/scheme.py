"""Scheme definitions as data: one YAML file a scheme, validated here at load time.

A new scheme is a new file in ``mentoring/schemes/``, never a new code path. The JSON Schema that
editors use (``schemes/scheme.schema.json``) is generated from these models (``python -m
mentoring.scheme``), so the two cannot disagree.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mentoring.institutions import load_institutions
from mentoring.models import CalendarSession, Role, london_deadline
from mentoring.sources import Basis, SourceDocument

SCHEMES_DIR = Path(__file__).parent / "schemes"
# Monitoring answers are stored in DynamoDB transactions of a delete and a put a record, at most 100
# items (50 records). Pieces of at least k and at most 50 exist for every count of k or more only
# while 2k - 1 <= 50 (mentoring.monitoring.pieces).
MAX_MONITORING_K = 25
SCHEMES_DIR_VARIABLE = "MENTORING_SCHEMES_DIR"

QuestionId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
RESERVED_QUESTIONS = frozenset({"about"})


class Definition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- questions


class Choice(Definition):
    value: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$")
    label: str


class Question(Definition):
    """A question of the scheme's form.

    ``eligibility`` questions are asked only to decide eligibility (the form says so); ``matching``
    questions describe what makes a good pair. The equal-opportunities monitoring questions are not
    scheme questions: they are the same for every scheme and never reach a rule.
    """

    id: QuestionId
    purpose: Literal["eligibility", "matching"]
    roles: tuple[Role, ...] = (Role.MENTEE, Role.MENTOR)
    label: str
    labels: dict[Role, str] = Field(default_factory=dict, description="A different label for a role.")
    help: str = ""
    type: Literal["choice", "multi_choice", "tags", "text", "number", "email"]
    choices: tuple[Choice, ...] = ()
    required: bool = False
    min: int | None = Field(default=None, description="number: the smallest value")
    max: int | None = Field(default=None, description="number: the largest value; lists: most items")
    source: Basis = Field(description="Why the scheme asks this, and where its choices come from.")

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if self.type in {"choice", "multi_choice"} and not self.choices:
            raise ValueError(f"question {self.id!r} of type {self.type} needs choices")
        if self.type not in {"choice", "multi_choice"} and self.choices:
            raise ValueError(f"question {self.id!r} of type {self.type} cannot have choices")
        if self.type == "number" and (self.min is None or self.max is None or self.min > self.max):
            raise ValueError(f"question {self.id!r} of type number needs min <= max")
        return self

    def label_for(self, role: Role) -> str:
        return self.labels.get(role, self.label)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.choices)

    @property
    def is_list(self) -> bool:
        return self.type in {"multi_choice", "tags"}


# ---------------------------------------------------------------- the evaluation survey

# The answers of an ``agreement`` question, from most to least: the same for every scheme.
AGREEMENT: tuple[tuple[str, str], ...] = (
    ("strongly_agree", "Strongly agree"),
    ("agree", "Agree"),
    ("neither", "Neither agree nor disagree"),
    ("disagree", "Disagree"),
    ("strongly_disagree", "Strongly disagree"),
)


class EvaluationQuestion(Definition):
    """A question of the anonymous evaluation survey at the end of the programme.

    Answers are counted, never read one by one: so every question has a fixed list of answers
    (``agreement``: the five-point scale of :data:`AGREEMENT`; ``choice``: the ``options`` given)
    and none takes free text, which could say who wrote it. ``source`` says which of the
    scheme's aims the question asks about, or that it is this project's default.
    """

    id: QuestionId
    kind: Literal["agreement", "choice"]
    text: str = Field(description="The statement (agreement) or question (choice), for every role.")
    texts: dict[Role, str] = Field(default_factory=dict, description="A different text for a role.")
    roles: tuple[Role, ...] = Field(default=(Role.MENTEE, Role.MENTOR), min_length=1)
    options: tuple[Choice, ...] = Field(
        default=(), description="choice: the answers, in order (agreement: the scale's, filled in)."
    )
    required: bool = False
    source: Basis = Field(description="The aim of the scheme this asks about, and where it is said.")

    @model_validator(mode="before")
    @classmethod
    def _scale(cls, data: Any) -> Any:
        """An agreement question's options are the scale's, never listed in the definition."""
        if isinstance(data, dict) and data.get("kind") == "agreement":
            if data.get("options"):
                raise ValueError(
                    f"evaluation question {data.get('id')!r} of kind agreement takes the scale's answers"
                )
            return {**data, "options": [{"value": value, "label": label} for value, label in AGREEMENT]}
        return data

    @model_validator(mode="after")
    def _options(self) -> EvaluationQuestion:
        if len(self.options) < 2:
            raise ValueError(f"evaluation question {self.id!r} of kind choice needs at least two options")
        return self

    def text_for(self, role: Role) -> str:
        return self.texts.get(role, self.text)


class NextYearQuestion(Definition):
    """ "Would you like to be a mentor next year?": asked with the evaluation but never part of its
    anonymous answers. The answer is kept with the person's identity (the next cohort's invitation
    list), with the cohort's retention."""

    text: str = "Would you like to be a mentor in next year's cohort?"
    source: Basis


# ---------------------------------------------------------------- eligibility rules


class RuleText(Definition):
    passed: str = Field(default="", description="Shown to an applicant who meets the rule.")
    failed: str = Field(
        default="", description="Shown to an applicant who does not, saying what the rule asks."
    )
    source: Basis | None = Field(
        default=None, description="Required on every rule of a role (inside any_of, on the any_of)."
    )


class AnswerIn(RuleText):
    """The applicant's answer to ``question`` is one of ``values``."""

    kind: Literal["answer_in"]
    question: QuestionId
    values: tuple[str, ...] = Field(min_length=1)


class AnswersInclude(RuleText):
    """At least one of the applicant's answers to a list question is one of ``values``."""

    kind: Literal["answers_include"]
    question: QuestionId
    values: tuple[str, ...] = Field(min_length=1)


class GradeBetween(RuleText):
    """The applicant's grade, on the common scale, is from ``min`` to ``max``."""

    kind: Literal["grade_between"]
    min: int = Field(ge=1, le=10)
    max: int = Field(ge=1, le=10)


class InstitutionIn(RuleText):
    """The applicant works at one of ``institutions`` (default: the scheme's)."""

    kind: Literal["institution_in"]
    institutions: tuple[str, ...] = ()


class AnyOf(RuleText):
    """Any one of ``rules`` is enough (for example: a board member, or grade 9 and above)."""

    kind: Literal["any_of"]
    rules: tuple[
        Annotated[AnswerIn | AnswersInclude | GradeBetween | InstitutionIn, Field(discriminator="kind")], ...
    ] = Field(min_length=2)


EligibilityRule = Annotated[
    AnswerIn | AnswersInclude | GradeBetween | InstitutionIn | AnyOf, Field(discriminator="kind")
]


# ---------------------------------------------------------------- pairing and scoring


class PairingRule(Definition):
    """A hard rule every pair must satisfy; matching records the rule's kind for each pair it excludes.

    - ``different_institution``, ``different_department``: as named;
    - ``mentor_grade_above`` / ``mentee_grade_above``: on the common scale;
    - ``not_line_manager``: neither person's answer to ``question`` (a line manager's email) is the
      other's email;
    - ``shares_answer``: the mentee's answer to ``mentee_question`` and the mentor's to
      ``mentor_question`` have a value in common.
    """

    kind: Literal[
        "different_institution",
        "different_department",
        "mentor_grade_above",
        "mentee_grade_above",
        "not_line_manager",
        "shares_answer",
    ]
    description: str
    source: Basis
    question: QuestionId | None = None
    mentee_question: QuestionId | None = None
    mentor_question: QuestionId | None = None

    @model_validator(mode="after")
    def _parameters(self) -> PairingRule:
        if self.kind == "not_line_manager" and self.question is None:
            raise ValueError("a not_line_manager rule names its question (the line manager's email)")
        if self.kind == "shares_answer" and (self.mentee_question is None or self.mentor_question is None):
            raise ValueError("a shares_answer rule names mentee_question and mentor_question")
        return self


class ScoringCriterion(Definition):
    """One part of a pair's score.

    ``overlap``: weight x the number of values the two answers share; ``same``: weight when the two
    answers are equal.
    """

    criterion: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["overlap", "same"] = "overlap"
    mentee_question: QuestionId
    mentor_question: QuestionId
    weight: float = Field(gt=0)
    label: str
    source: Basis


class RoleDefinition(Definition):
    label: str
    description: str
    eligibility: tuple[EligibilityRule, ...] = ()
    source: Basis = Field(description="Who the source says takes this role.")


class SessionDefinition(Definition):
    """A training session or an event of the scheme's own cohort, on a London calendar."""

    title: str
    roles: tuple[Role, ...] = Field(min_length=1)
    date: date
    starts: time
    ends: time
    where: Literal["online", "in_person"]
    location: str = ""
    compulsory: bool = True
    source: Basis

    def session(self) -> CalendarSession:
        return CalendarSession.model_validate(self.model_dump(exclude={"source"}))


class SchemeCalendar(Definition):
    """The calendar of the cohort the scheme's source describes; a new cohort takes it moved to its
    own deadline (same weekdays and London times) unless it gives its own dates."""

    recruitment_deadline: datetime = Field(description="London wall-clock time, without an offset.")
    deadline_source: Basis
    training: tuple[SessionDefinition, ...] = ()
    programme_starts: date
    programme_ends: date
    programme_source: Basis
    events: tuple[SessionDefinition, ...] = ()

    def deadline_at(self) -> datetime:
        return london_deadline(self.recruitment_deadline)


RoleTexts = str | dict[Role, str]


class EmailTexts(Definition):
    """The sentences of the emails that differ between schemes; the rest is the same for all.

    ``welcome``, ``matched`` and ``not_eligible`` may be one text for everyone or one per role, so
    that a mentor is never told about "your mentor". No figures here: dates, places and meetings
    come from the cohort's calendar and the definition, where each says where it comes from.
    """

    welcome: RoleTexts = Field(description="Opens the acknowledgement email of an eligible applicant.")
    matched: RoleTexts = Field(description="Follows the introduction in the matched emails.")
    unmatched: str = Field(description="What an applicant who was not matched can do next.")
    not_eligible: dict[Role, list[str]] = Field(
        default_factory=dict,
        description="What an applicant who is not eligible for a role can do next (for example, apply to "
        "another scheme).",
    )
    waiting_list: str = Field(
        default="The cohort is full, so your application is on its waiting list; "
        "we will contact you if a place becomes free.",
        description="Tells an eligible mentee who applied after the cohort filled up.",
    )

    def welcome_for(self, role: Role) -> str:
        return self.welcome if isinstance(self.welcome, str) else self.welcome[role]

    def matched_for(self, role: Role) -> str:
        return self.matched if isinstance(self.matched, str) else self.matched[role]

    def not_eligible_for(self, role: Role) -> list[str]:
        return list(self.not_eligible.get(role, []))


# The scheme's figures that must each say where they come from (``sources`` in the definition).
FIGURES = (
    "institutions",
    "max_mentees",
    "when_full",
    "mentor_capacity_max",
    "minimum_meetings",
    "first_contact",
)


class Scheme(Definition):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    summary: str
    document: SourceDocument | None = Field(
        default=None, description="The public page this definition is traced to; without one, all is default."
    )
    sources: dict[str, Basis] = Field(
        default_factory=dict,
        description="Where each figure comes from, by field name: " + ", ".join(FIGURES) + ".",
    )
    institutions: tuple[str, ...] = Field(min_length=1, description="Codes from institutions.yaml.")
    eligibility_notice: str = Field(
        default="",
        description="Why the eligibility questions are asked; shown above them on the form.",
    )
    roles: dict[Role, RoleDefinition]
    questions: tuple[Question, ...] = ()
    pairing_rules: tuple[PairingRule, ...] = ()
    scoring: tuple[ScoringCriterion, ...] = ()
    mentor_capacity_max: int = Field(default=1, ge=1, le=10)
    matching: Literal["optimal", "stable"] = Field(
        default="optimal",
        description="optimal: the most mentees matched, then the largest total score (proved); "
        "stable: no mentee and mentor who would both rather be together, ranking by the scores.",
    )
    publish: Literal["at_deadline", "after_review"] = Field(
        default="at_deadline",
        description="at_deadline: results are emailed when matching ends; after_review: the matches "
        "are held as provisional until a coordinator (who may change them) publishes them.",
    )
    max_mentees: int = Field(ge=1, description="The cohort's size limit, in mentees.")
    when_full: Literal["close", "waiting_list"] = Field(
        default="waiting_list",
        description="close: refuse mentee applications once full; waiting_list: keep later ones waiting.",
    )
    minimum_meetings: int = Field(default=1, ge=1, description="Meetings each pair agrees to hold.")
    monitoring_batch: int = Field(
        default=5,
        ge=2,
        # A batch is one transaction of a delete and a put a record (DynamoDB: 100 items at most,
        # so 50 records). Batches of at least k and at most 50 exist for every count of k or more
        # only while 2k - 1 <= 50.
        le=MAX_MONITORING_K,
        description="k: monitoring answers reach the store in shuffled batches of at least this many "
        f"(at most {MAX_MONITORING_K}, so that every batch fits one DynamoDB transaction).",
    )
    calendar: SchemeCalendar
    first_contact: Role = Field(
        default=Role.MENTEE, description="Who writes first to arrange the pair's first meeting."
    )
    emails: EmailTexts
    evaluation: tuple[EvaluationQuestion, ...] = Field(
        min_length=1,
        description="The anonymous evaluation survey at the end of the programme: counted only, in "
        "batches of at least monitoring_batch people, never with who answered.",
    )
    next_year: NextYearQuestion = Field(
        description="Asked with the evaluation, kept with identity: the next cohort's invitation list."
    )

    @model_validator(mode="after")
    def _references(self) -> Scheme:
        """Everything a rule names exists, so that a typo fails at load, not at the deadline."""
        problems = list(_reference_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def questions_for(self, role: Role) -> list[Question]:
        return [q for q in self.questions if role in q.roles]

    def bases(self) -> Iterator[tuple[str, str, Basis]]:
        """Every rule and figure with what it says and where it comes from, in the file's order."""
        for figure in FIGURES:
            value = getattr(self, figure)
            shown = ", ".join(value) if isinstance(value, tuple) else str(value).replace("_", " ")
            if figure in self.sources:
                yield figure.replace("_", " "), shown, self.sources[figure]
        for definition in self.roles.values():
            yield f"{definition.label}: who", definition.description, definition.source
            for rule in definition.eligibility:
                if rule.source is not None:
                    yield f"{definition.label}: eligibility", rule.failed, rule.source
        for question in self.questions:
            choices = f" ({', '.join(c.label for c in question.choices)})" if question.choices else ""
            yield "question", question.label + choices, question.source
        for pairing in self.pairing_rules:
            yield "pairing rule", pairing.description, pairing.source
        for criterion in self.scoring:
            yield "score", f"{criterion.label} (weight {criterion.weight:g})", criterion.source
        for asked in self.evaluation:
            who = " and ".join(f"{r.value}s" for r in asked.roles)
            yield f"evaluation ({who})", asked.text, asked.source
        yield "next year", self.next_year.text, self.next_year.source
        calendar = self.calendar
        yield (
            "recruitment deadline",
            f"{calendar.recruitment_deadline:%A %d %B %Y, %H:%M}",
            calendar.deadline_source,
        )
        for kind, sessions in (("training", calendar.training), ("event", calendar.events)):
            for session in sessions:
                who = " and ".join(f"{r.value}s" for r in session.roles)
                at = f"{session.date:%A %d %B %Y}, {session.starts:%H:%M}-{session.ends:%H:%M}"
                place = session.where.replace("_", " ")
                yield kind, f"{session.title} ({who}): {at}, {place}", session.source
        span = f"{calendar.programme_starts:%d %B %Y} to {calendar.programme_ends:%d %B %Y}"
        yield "programme", span, calendar.programme_source

    def institution_names(self) -> dict[str, str]:
        known = load_institutions()
        return {code: known[code].name for code in self.institutions if code in known}


def _source_problems(scheme: Scheme) -> Iterator[str]:
    """Every rule and figure says where it comes from: a quote of the source, or the project's default."""
    for figure in FIGURES:
        if figure not in scheme.sources:
            yield f"sources.{figure}: say where this figure comes from (quote, or default)"
    for name in scheme.sources:
        if name not in FIGURES:
            yield f"sources.{name}: not one of the figures ({', '.join(FIGURES)})"
    for role, definition in scheme.roles.items():
        for j, rule in enumerate(definition.eligibility):
            if rule.source is None:
                yield f"roles.{role.value}.eligibility.{j}.source: say where this rule comes from"
    if scheme.document is None and any(basis.quote.strip() for _, _, basis in scheme.bases()):
        yield "document: a quote needs the source document it comes from"


def _calendar_problems(scheme: Scheme) -> Iterator[str]:
    """The scheme's own cohort must be one a coordinator could open: the same checks as a cohort's."""
    from mentoring.programme import calendar_problems, reference_calendar  # noqa: PLC0415 (cycle)

    try:
        deadline = scheme.calendar.deadline_at()
    except ValueError as problem:
        yield f"calendar.recruitment_deadline: {problem}"
        return
    for error in calendar_problems(reference_calendar(scheme), deadline, scheme, prefix="calendar."):
        yield f"{error.field}: {error.message}"


def _email_problems(scheme: Scheme) -> Iterator[str]:
    for name in ("welcome", "matched"):
        texts = getattr(scheme.emails, name)
        if isinstance(texts, dict) and set(texts) != set(scheme.roles):
            roles = ", ".join(r.value for r in scheme.roles)
            yield f"emails.{name}: give one text, or one for each role ({roles})"
    for role in scheme.emails.not_eligible:
        if role not in scheme.roles:
            yield f"emails.not_eligible.{role.value}: the scheme has no {role.value} role"


def _reference_problems(scheme: Scheme) -> Iterator[str]:
    yield from _source_problems(scheme)
    yield from _email_problems(scheme)
    yield from _calendar_problems(scheme)
    yield from _evaluation_problems(scheme)
    known = load_institutions()
    for i, code in enumerate(scheme.institutions):
        if code not in known:
            yield f"institutions.{i}: {code!r} is not in institutions.yaml"
    ids = [q.id for q in scheme.questions]
    for i, q in enumerate(scheme.questions):
        if ids.count(q.id) > 1:
            yield f"questions.{i}.id: {q.id!r} is used twice"
        if q.id in RESERVED_QUESTIONS:
            yield f"questions.{i}.id: {q.id!r} is reserved"
        for role in q.roles:
            if role not in scheme.roles:
                yield f"questions.{i}.roles: the scheme has no {role.value} role"
        if q.id == "capacity" and (q.type != "number" or (q.max or 0) > scheme.mentor_capacity_max):
            yield f"questions.{i}: capacity is a number no larger than mentor_capacity_max"
    for role, definition in scheme.roles.items():
        for j, rule in enumerate(definition.eligibility):
            where = f"roles.{role.value}.eligibility.{j}"
            if not (rule.passed.strip() and rule.failed.strip()):
                yield f"{where}: a rule says in words why it passed and why it failed (passed, failed)"
            yield from _rule_problems(scheme, role, rule, where)
    for j, pairing in enumerate(scheme.pairing_rules):
        where = f"pairing_rules.{j}"
        if pairing.question is not None:
            yield from _question_problems(scheme, where + ".question", pairing.question, Role.MENTEE, "email")
        if pairing.mentee_question is not None:
            yield from _question_problems(
                scheme, where + ".mentee_question", pairing.mentee_question, Role.MENTEE
            )
        if pairing.mentor_question is not None:
            yield from _question_problems(
                scheme, where + ".mentor_question", pairing.mentor_question, Role.MENTOR
            )
    for j, criterion in enumerate(scheme.scoring):
        where = f"scoring.{j}"
        yield from _question_problems(
            scheme, where + ".mentee_question", criterion.mentee_question, Role.MENTEE
        )
        yield from _question_problems(
            scheme, where + ".mentor_question", criterion.mentor_question, Role.MENTOR
        )


def _evaluation_problems(scheme: Scheme) -> Iterator[str]:
    """The survey asks each role something, with ids used once, of roles the scheme has."""
    ids = [q.id for q in scheme.evaluation]
    for i, asked in enumerate(scheme.evaluation):
        if ids.count(asked.id) > 1:
            yield f"evaluation.{i}.id: {asked.id!r} is used twice"
        for role in {*asked.roles, *asked.texts}:
            if role not in scheme.roles:
                yield f"evaluation.{i}: the scheme has no {role.value} role"
        values = [c.value for c in asked.options]
        if len(set(values)) != len(values):
            yield f"evaluation.{i}.options: an answer is listed twice"
    for role in scheme.roles:
        if not any(role in asked.roles for asked in scheme.evaluation):
            yield f"evaluation: no question is asked of the {role.value} role"


def _question_problems(
    scheme: Scheme, where: str, question_id: str, role: Role, kind: str | None = None
) -> Iterator[str]:
    question = scheme.question(question_id)
    if question is None:
        yield f"{where}: no question {question_id!r} in questions"
    elif role not in question.roles and kind is None:
        yield f"{where}: question {question_id!r} is not asked of the {role.value} role"
    elif kind is not None and question.type != kind:
        yield f"{where}: question {question_id!r} must be of type {kind}"


def _rule_problems(scheme: Scheme, role: Role, rule: EligibilityRule, where: str) -> Iterator[str]:
    match rule:
        case (
            AnswerIn(question=question_id, values=values)
            | AnswersInclude(question=question_id, values=values)
        ):
            question = scheme.question(question_id)
            yield from _question_problems(scheme, where + ".question", question_id, role)
            if question is not None and question.choices:
                for value in values:
                    if value not in question.values:
                        yield f"{where}.values: {value!r} is not a choice of {question_id!r}"
            if isinstance(rule, AnswersInclude) and question is not None and not question.is_list:
                yield f"{where}.question: answers_include needs a multi_choice or tags question"
        case GradeBetween(min=low, max=high) if low > high:
            yield f"{where}: min is above max"
        case InstitutionIn(institutions=codes):
            for code in codes:
                if code not in scheme.institutions:
                    yield f"{where}.institutions: {code!r} is not one of the scheme's institutions"
        case AnyOf(rules=rules):
            for k, inner in enumerate(rules):
                yield from _rule_problems(scheme, role, inner, f"{where}.rules.{k}")
        case _:
            pass


class SchemeDefinitionError(ValueError):
    """A scheme file that cannot be used; the message names the file, the field and the problem."""


def _problems(error: ValidationError) -> str:
    out = []
    for e in error.errors(include_url=False):
        where = ".".join(str(part) for part in e["loc"])
        message = e["msg"].removeprefix("Value error, ")
        out.append(f"{where}: {message}" if where else message)
    return "; ".join(out)


def load_scheme_file(path: Path) -> Scheme:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Scheme.model_validate(raw)
    except yaml.YAMLError as error:
        raise SchemeDefinitionError(f"{path.name}: not valid YAML: {error}") from error
    except ValidationError as error:
        raise SchemeDefinitionError(f"{path.name}: {_problems(error)}") from error


def schemes_directory() -> Path:
    """Where the definitions are: the package's own, unless the deployment points elsewhere."""
    configured = os.environ.get(SCHEMES_DIR_VARIABLE)
    return Path(configured) if configured else SCHEMES_DIR


def load_schemes(directory: Path | None = None) -> dict[str, Scheme]:
    """Every scheme in ``directory``, by id; loaded once a process (a Lambda cold start)."""
    return _load_schemes(directory or schemes_directory())


@cache
def _load_schemes(directory: Path) -> dict[str, Scheme]:
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


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def sources_table(schemes: Mapping[str, Scheme] | None = None) -> str:
    """The README's account of where each scheme's rules and figures come from (``make schema``)."""
    out = []
    for scheme in (schemes or load_schemes()).values():
        defaults = sum(1 for _, _, basis in scheme.bases() if basis.is_default)
        document = scheme.document
        source = f"{document.title}, {document.publisher}" if document else "no source document"
        out += [
            f"<details><summary><b>{scheme.name}</b> ({scheme.id}.yaml): {source}; {defaults} of its "
            "rules and figures are (partly) this project's defaults</summary>",
            "",
            "| rule or figure | what it says | the source's words | project default (to confirm) |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {_cell(what)} | {_cell(value)} | "
            + (f"\u201c{_cell(basis.quote)}\u201d" if basis.quote.strip() else "")
            + f" | {_cell(basis.default)} |"
            for what, value, basis in scheme.bases()
        ]
        out += ["", "</details>", ""]
    return "\n".join(out)


SOURCES_START = "<!-- scheme sources: generated by make schema from the definitions -->"
SOURCES_END = "<!-- end of scheme sources -->"


def with_sources_table(readme: str) -> str:
    """The README with its generated account of the schemes' sources brought up to date."""
    head, _, rest = readme.partition(SOURCES_START)
    _, _, tail = rest.partition(SOURCES_END)
    return f"{head}{SOURCES_START}\n{sources_table()}{SOURCES_END}{tail}"


def json_schema() -> dict[str, Any]:
    schema = Scheme.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Mentoring scheme definition"
    return schema


def answer_values(answer: object) -> set[str]:
    """An answer as a set of values, whatever its type, for comparisons between two people."""
    if answer is None or answer == "":
        return set()
    if isinstance(answer, list | tuple | set):
        return {str(v).casefold() for v in answer}
    return {str(answer).casefold()}


def answers_of(answers: Mapping[str, object], question: str) -> set[str]:
    return answer_values(answers.get(question))


if __name__ == "__main__":  # pragma: no cover - exercised by the schema test through its output
    if sys.argv[1:2] == ["--readme"]:
        readme = Path(sys.argv[2])
        readme.write_text(with_sources_table(readme.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
