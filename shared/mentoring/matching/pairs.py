"""A cohort's allowed pairs and their scores, as array operations compiled once per cohort.

Every hard rule and scoring criterion of the scheme becomes arrays over the applicants' answers,
built once: codes for institutions and departments, grades on the common scale, the pairs the
line-management rule forbids, and for each question a 0/1 matrix of who gave which answer. The
pairs are then worked out block by block (some mentees against every mentor), each block a few
matrix products and comparisons, and handed to the engine as it streams through them, so memory
stays bounded whatever the cohort's size. ``mentoring.matching.rules`` says the same in plain
Python for one pair; a property test checks that the two agree on every pair of every scheme.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mentoring.matching import engine
from mentoring.matching.rules import Person
from mentoring.scheme import PairingRule, Scheme, ScoringCriterion

BLOCK_CELLS = 1 << 20  # mentee x mentor cells worked out at once (8 MB a float64 array)
DENSE_ANSWERS = 1 << 24  # answers matrices held dense below this many cells, sparse above

Rows = slice | npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
RuleMask = Callable[[Rows], BoolArray]  # rows of mentees x every mentor: the pairs the rule allows


def _codes(values: Sequence[object]) -> npt.NDArray[np.int64]:
    """Equal values, equal codes (None is a value like any other, as in the rules)."""
    index: dict[object, int] = {}
    return np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values))


class _Answers:
    """Who gave which answer to a question, on each side: 0/1 matrices over the answers either
    side gave (``mentees`` rows x answers, ``mentors`` rows x answers)."""

    def __init__(
        self, mentee_values: Sequence[frozenset[str]], mentor_values: Sequence[frozenset[str]]
    ) -> None:
        # Only answers both sides gave can be shared.
        common = set().union(*mentee_values) & set().union(*mentor_values) if mentee_values else set()
        vocabulary = {value: k for k, value in enumerate(sorted(common))}
        self.size = len(vocabulary)
        self.mentees = _indicator(mentee_values, vocabulary)
        self.mentors = _indicator(mentor_values, vocabulary)


def _indicator(values: Sequence[frozenset[str]], vocabulary: dict[str, int]) -> FloatArray:
    matrix = np.zeros((len(values), len(vocabulary)), dtype=np.float64)
    for row, answers in enumerate(values):
        for answer in answers:
            column = vocabulary.get(answer)
            if column is not None:
                matrix[row, column] = 1.0
    return matrix


def _same_sets(mentee_values: Sequence[frozenset[str]], mentor_values: Sequence[frozenset[str]]) -> _Answers:
    """Equal non-empty answers as one-hot columns: their product is 1 exactly when they are equal."""
    return _Answers(
        [frozenset([_key(v)]) if v else frozenset() for v in mentee_values],
        [frozenset([_key(v)]) if v else frozenset() for v in mentor_values],
    )


def _key(values: frozenset[str]) -> str:
    return "\x1f".join(sorted(values))


@dataclass(frozen=True)
class _Rule:
    rule: PairingRule
    allows: RuleMask


class CohortPairs:
    """The pairs of one cohort: the scheme's rules and scores over these mentees and mentors."""

    def __init__(
        self,
        scheme: Scheme,
        mentees: Sequence[Person],
        mentors: Sequence[Person],
        block_cells: int = BLOCK_CELLS,
    ) -> None:
        self.scheme = scheme
        self.n_mentees, self.n_mentors = len(mentees), len(mentors)
        self.rules = [
            _Rule(rule, self._compile_rule(rule, mentees, mentors)) for rule in scheme.pairing_rules
        ]
        self.unit = scores_unit(scheme.scoring)
        self._score = self._compile_scores(scheme.scoring, mentees, mentors)
        self.rows = max(1, block_cells // max(self.n_mentors, 1))

    # ------------------------------------------------------------ compiling
    def _compile_rule(
        self, rule: PairingRule, mentees: Sequence[Person], mentors: Sequence[Person]
    ) -> RuleMask:
        match rule.kind:
            case "different_institution":
                return _differ(_codes([p.institution for p in [*mentees, *mentors]]), len(mentees))
            case "different_department":
                return _differ(_codes([p.department for p in [*mentees, *mentors]]), len(mentees))
            case "mentor_grade_above" | "mentee_grade_above":
                mentee_grade = np.array([p.grade for p in mentees], dtype=np.int64)
                mentor_grade = np.array([p.grade for p in mentors], dtype=np.int64)
                if rule.kind == "mentor_grade_above":
                    return lambda rows: mentor_grade[None, :] > mentee_grade[rows][:, None]
                return lambda rows: mentee_grade[rows][:, None] > mentor_grade[None, :]
            case "not_line_manager":
                return self._line_management(rule.question or "", mentees, mentors)
            case "shares_answer":
                answers = _Answers(
                    [p.values(rule.mentee_question) for p in mentees],
                    [p.values(rule.mentor_question) for p in mentors],
                )
                mentor_side = answers.mentors.T.astype(np.float32)
                mentee_side = answers.mentees.astype(np.float32)
                return lambda rows: (mentee_side[rows] @ mentor_side) > 0
        raise AssertionError(f"unhandled pairing rule {rule.kind}")  # pragma: no cover - closed Literal

    def _line_management(
        self, question: str, mentees: Sequence[Person], mentors: Sequence[Person]
    ) -> RuleMask:
        """The few pairs in which one names the other as line manager, as sorted cell numbers."""
        m = max(self.n_mentors, 1)
        mentor_by_email: dict[str, list[int]] = {}
        for j, mentor in enumerate(mentors):
            mentor_by_email.setdefault(mentor.email, []).append(j)
        forbidden: set[int] = set()
        for i, mentee in enumerate(mentees):
            for email in mentee.values(question):
                forbidden.update(i * m + j for j in mentor_by_email.get(email, ()))
        mentee_by_email: dict[str, list[int]] = {}
        for i, mentee in enumerate(mentees):
            mentee_by_email.setdefault(mentee.email, []).append(i)
        for j, mentor in enumerate(mentors):
            for email in mentor.values(question):
                forbidden.update(i * m + j for i in mentee_by_email.get(email, ()))
        cells = np.array(sorted(forbidden), dtype=np.int64)
        n_mentors = self.n_mentors

        def allows(rows: Rows) -> BoolArray:
            index = np.arange(self.n_mentees)[rows]
            mask = np.ones((index.size, n_mentors), dtype=bool)
            if cells.size:
                lo, hi = np.searchsorted(cells, index * m), np.searchsorted(cells, (index + 1) * m)
                counts = hi - lo
                taken = cells[np.repeat(lo, counts) + engine._ranges(counts)]
                mask[np.repeat(np.arange(index.size), counts), taken % m] = False
            return mask

        return allows

    def _compile_scores(
        self, criteria: Sequence[ScoringCriterion], mentees: Sequence[Person], mentors: Sequence[Person]
    ) -> Callable[[Rows], FloatArray]:
        """Each block's scores in millionths. With weights in whole millionths (any sane weight),
        one matrix product does every criterion at once, exactly: answers weighted on the mentee
        side, counted against the mentor side. Otherwise criterion by criterion, in the order and
        the floating point of the rules, rounded to millionths as the engine reads scores."""
        parts = []
        for criterion in criteria:
            wanted = [p.values(criterion.mentee_question) for p in mentees]
            offered = [p.values(criterion.mentor_question) for p in mentors]
            parts.append(
                _same_sets(wanted, offered) if criterion.kind == "same" else _Answers(wanted, offered)
            )
        weights = [c.weight for c in criteria]
        if self.unit is not None:
            mentee_side = np.hstack(
                [np.zeros((self.n_mentees, 0))]
                + [a.mentees * round(w * engine.SCALE) for a, w in zip(parts, weights, strict=True)]
            )
            mentor_side = np.ascontiguousarray(
                np.hstack([np.zeros((self.n_mentors, 0))] + [a.mentors for a in parts]).T
            )
            return lambda rows: mentee_side[rows] @ mentor_side

        def exact(rows: Rows) -> FloatArray:
            total: FloatArray | float = 0.0
            for answers, weight in zip(parts, weights, strict=True):
                total = total + weight * (answers.mentees[rows] @ answers.mentors.T)
            rounded: FloatArray = np.rint(np.asarray(total) * engine.SCALE)
            return rounded

        return exact

    # ------------------------------------------------------------ the pairs
    def allowed(self, rows: Rows) -> BoolArray | None:
        """The pairs every hard rule allows (None: there are no rules)."""
        mask: BoolArray | None = None
        for rule in self.rules:
            allows = rule.allows(rows)
            mask = allows if mask is None else np.logical_and(mask, allows, out=mask)
        return mask

    def block(self, start: int, stop: int) -> engine.Dense:
        rows = slice(start, stop)
        value = np.asarray(self._score(rows), dtype=np.float64)
        if value.shape != (stop - start, self.n_mentors):  # no criteria: every pair scores 0
            value = np.zeros((stop - start, self.n_mentors))
        mask = self.allowed(rows)
        if mask is not None:
            np.copyto(value, -np.inf, where=~mask)
        return engine.Dense(start, value)

    def blocks(self) -> Iterator[engine.Dense]:
        """Every allowed pair, block by block: the engine's source, the same on every pass."""
        for start in range(0, self.n_mentees, self.rows):
            yield self.block(start, min(self.n_mentees, start + self.rows))

    def pairs(self) -> engine.Pairs:
        """Every allowed pair as a list (the stable policy needs them all at once)."""
        return engine.Pairs.concat([b.pairs() for b in self.blocks()])

    def exclusions(self, mentees: Sequence[int]) -> list[tuple[int, Counter[str]]]:
        """For each of these mentees: how many mentors every rule allows, and how many each kind of
        rule excluded (a mentor excluded by two rules counts for both), as the reasons say."""
        found: list[tuple[int, Counter[str]]] = []
        step = max(1, self.rows)
        for start in range(0, len(mentees), step):
            rows = np.asarray(mentees[start : start + step], dtype=np.intp)
            every = np.ones((rows.size, self.n_mentors), dtype=bool)
            counts: list[Counter[str]] = [Counter() for _ in range(rows.size)]
            for rule in self.rules:
                allows = rule.allows(rows)
                every &= allows
                for k, excluded in enumerate((self.n_mentors - allows.sum(axis=1)).tolist()):
                    if excluded:
                        counts[k][rule.rule.kind] += excluded
            found += list(zip(every.sum(axis=1).tolist(), counts, strict=True))
        return found


def _differ(codes: npt.NDArray[np.int64], n_mentees: int) -> RuleMask:
    mentee_code, mentor_code = codes[:n_mentees], codes[n_mentees:]
    return lambda rows: mentee_code[rows][:, None] != mentor_code[None, :]


def scores_unit(criteria: Sequence[ScoringCriterion]) -> int | None:
    """What the engine counts scores in: the coarsest power of ten of millionths that every weight
    is a whole number of (so every score is too), or None when a weight has finer digits."""
    millionths = [c.weight * engine.SCALE for c in criteria]
    if any(abs(w - round(w)) > 1e-6 for w in millionths):
        return None
    whole = np.array([round(w) for w in millionths], dtype=np.int64)
    return engine._unit(whole) if whole.size else engine.SCALE
