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

from mentoring.matching import Cohort, Outcome, engine
from mentoring.matching.rules import Person
from mentoring.scheme import PairingRule, Scheme, ScoringCriterion

BLOCK_CELLS = 1 << 20  # mentee x mentor cells worked out at once (8 MB a float64 array)
FOLD_LIMIT = 256  # a rule with at most this many values is columns of the scores' matrix product
PENALTY = -1e250  # what a folded rule adds to a pair it forbids: far below engine.FORBIDDEN
DENSE_ANSWERS = 1 << 24  # answers matrices held dense below this many cells, sparse above

Rows = slice | npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
RuleMask = Callable[[Rows], BoolArray]  # rows of mentees x every mentor: the pairs the rule allows


def _codes(values: Sequence[object]) -> npt.NDArray[np.int64]:
    """Equal values, equal codes (None is a value like any other, as in the rules)."""
    index: dict[object, int] = {}
    return np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values))


def solve_cohort(scheme: Scheme, cohort: Cohort) -> tuple[Outcome, dict[int, tuple[int, Counter[str]]]]:
    """Each mentee's mentor, by the engine over the pairs built here, and for each mentee left
    unmatched how many mentors the rules allowed and what excluded the others."""
    pairs = CohortPairs(scheme, cohort.mentee_views, cohort.mentor_views)
    n = len(cohort.mentees)
    if scheme.matching == "stable":
        solution = engine.stable(n, cohort.capacity, pairs.pairs())
    else:
        solution = engine.solve(n, cohort.capacity, source=pairs.blocks, unit=pairs.unit)
    outcome = Outcome(
        [None if j == engine.UNMATCHED else j for j in solution.mentor_of.tolist()],
        solution.certified_optimal if scheme.matching == "optimal" else None,
    )
    unmatched = [i for i, j in enumerate(outcome.mentor_of) if j is None]
    return outcome, dict(zip(unmatched, pairs.exclusions(unmatched), strict=True))


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
    """A hard rule, compiled: ``allows`` gives the pairs it allows for any mentees (the reasons
    use it); a block uses ``folded`` instead where the rule fits in the scores' matrix product (a
    column per value, ``PENALTY`` on the mentee side: the product is ``PENALTY`` exactly where the
    rule forbids the pair), or ``cells`` where it forbids a few pairs by name."""

    rule: PairingRule
    allows: RuleMask
    folded: tuple[FloatArray, FloatArray] | None = None
    cells: Callable[[int, int], npt.NDArray[np.int64]] | None = None


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
        self.unit = scores_unit(scheme.scoring)
        self.rules = [self._compile_rule(rule, mentees, mentors) for rule in scheme.pairing_rules]
        self._score = self._compile_scores(scheme.scoring, mentees, mentors)
        self.rows = max(1, block_cells // max(self.n_mentors, 1))

    # ------------------------------------------------------------ compiling
    def _compile_rule(self, rule: PairingRule, mentees: Sequence[Person], mentors: Sequence[Person]) -> _Rule:
        n = len(mentees)
        match rule.kind:
            case "different_institution" | "different_department":
                codes = _codes(
                    [
                        p.institution if rule.kind == "different_institution" else p.department
                        for p in [*mentees, *mentors]
                    ]
                )
                mentee_code, mentor_code = codes[:n], codes[n:]
                allows = _differ(mentee_code, mentor_code)
                # Forbidden exactly where the two have the same value: one column a value.
                return _Rule(
                    rule,
                    allows,
                    self._fold(
                        mentee_code[:, None] == _shared_values(mentee_code, mentor_code),
                        mentor_code[:, None] == _shared_values(mentee_code, mentor_code),
                    ),
                )
            case "mentor_grade_above" | "mentee_grade_above":
                mentee_grade = np.array([p.grade for p in mentees], dtype=np.int64)
                mentor_grade = np.array([p.grade for p in mentors], dtype=np.int64)
                grades = np.unique(mentee_grade)
                # A column for each grade a mentee has: forbidden where the mentor is not above it
                # (not below it, for the other rule).
                if rule.kind == "mentor_grade_above":
                    allows = _above(mentor_grade, mentee_grade)
                    mentor_columns = mentor_grade[:, None] <= grades[None, :]
                else:
                    allows = _below(mentor_grade, mentee_grade)
                    mentor_columns = mentor_grade[:, None] >= grades[None, :]
                return _Rule(
                    rule, allows, self._fold(mentee_grade[:, None] == grades[None, :], mentor_columns)
                )
            case "not_line_manager":
                allows, cells = self._line_management(rule.question or "", mentees, mentors)
                return _Rule(rule, allows, cells=cells)
            case "shares_answer":
                answers = _Answers(
                    [p.values(rule.mentee_question) for p in mentees],
                    [p.values(rule.mentor_question) for p in mentors],
                )
                mentor_side = answers.mentors.T.astype(np.float32)
                mentee_side = answers.mentees.astype(np.float32)
                return _Rule(rule, lambda rows: (mentee_side[rows] @ mentor_side) > 0)
        raise AssertionError(f"unhandled pairing rule {rule.kind}")  # pragma: no cover - closed Literal

    def _fold(
        self, mentee_columns: BoolArray, mentor_columns: BoolArray
    ) -> tuple[FloatArray, FloatArray] | None:
        """The rule as matrix columns, when the scores are one exact product and it has few values."""
        if self.unit is None or mentee_columns.shape[1] > FOLD_LIMIT:
            return None
        return mentee_columns.astype(np.float64) * PENALTY, mentor_columns.astype(np.float64)

    def _line_management(
        self, question: str, mentees: Sequence[Person], mentors: Sequence[Person]
    ) -> tuple[RuleMask, Callable[[int, int], npt.NDArray[np.int64]]]:
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

        def in_block(start: int, stop: int) -> npt.NDArray[np.int64]:
            """The forbidden cells of mentees ``start`` to ``stop - 1``, numbered within the block."""
            lo, hi = np.searchsorted(cells, [start * m, stop * m])
            return cells[lo:hi] - start * m

        return allows, in_block

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
            folded = [rule.folded for rule in self.rules if rule.folded is not None]
            mentee_side = np.hstack(
                [np.zeros((self.n_mentees, 0))]
                + [a.mentees * round(w * engine.SCALE) for a, w in zip(parts, weights, strict=True)]
                + [mentee_columns for mentee_columns, _ in folded]
            )
            mentor_side = np.ascontiguousarray(
                np.hstack(
                    [np.zeros((self.n_mentors, 0))]
                    + [a.mentors for a in parts]
                    + [mentor_columns for _, mentor_columns in folded]
                ).T
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
    def block(self, start: int, stop: int) -> engine.Dense:
        """Mentees ``start`` to ``stop - 1`` against every mentor: one matrix product gives the
        scores with the folded rules' penalties; the other rules forbid their pairs after it."""
        rows = slice(start, stop)
        value = np.asarray(self._score(rows), dtype=np.float64)
        if value.shape != (stop - start, self.n_mentors):  # no criteria: every pair scores 0
            value = np.zeros((stop - start, self.n_mentors))
        mask: BoolArray | None = None
        for rule in self.rules:
            if rule.cells is not None:
                value.ravel()[rule.cells(start, stop)] = -np.inf
            elif rule.folded is None or self.unit is None:
                allows = rule.allows(rows)
                mask = allows if mask is None else np.logical_and(mask, allows, out=mask)
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


def _differ(mentee_code: npt.NDArray[np.int64], mentor_code: npt.NDArray[np.int64]) -> RuleMask:
    return lambda rows: mentee_code[rows][:, None] != mentor_code[None, :]


def _above(mentor_grade: npt.NDArray[np.int64], mentee_grade: npt.NDArray[np.int64]) -> RuleMask:
    return lambda rows: mentor_grade[None, :] > mentee_grade[rows][:, None]


def _below(mentor_grade: npt.NDArray[np.int64], mentee_grade: npt.NDArray[np.int64]) -> RuleMask:
    return lambda rows: mentee_grade[rows][:, None] > mentor_grade[None, :]


def _shared_values(
    mentee_code: npt.NDArray[np.int64], mentor_code: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The values both sides have (a row vector): only these can make two people the same."""
    both = np.intersect1d(mentee_code, mentor_code)
    return both[None, :]


def scores_unit(criteria: Sequence[ScoringCriterion]) -> int | None:
    """What the engine counts scores in: the coarsest power of ten of millionths that every weight
    is a whole number of (so every score is too), or None when a weight has finer digits."""
    millionths = [c.weight * engine.SCALE for c in criteria]
    if any(abs(w - round(w)) > 1e-6 for w in millionths):
        return None
    whole = np.array([round(w) for w in millionths], dtype=np.int64)
    return engine._unit(whole) if whole.size else engine.SCALE
