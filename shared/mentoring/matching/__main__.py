"""``python -m mentoring.matching INSTANCE.json``: the engine on a file, for "what if" runs and checks.

The instance::

    {"mentees": [{"id": "a"}, ...],
     "mentors": [{"id": "x", "capacity": 2}, ...],
     "pairs":   [{"mentee": "a", "mentor": "x", "score": 3.5}, ...]}

``pairs`` are the allowed pairs with their scores; the scheme's rules are not applied again. Without
``pairs``, give ``"scheme": "<scheme id>"`` and each mentee and mentor as a stored application
(the admin API's shape); the scheme's hard rules and scoring then make the pairs. The result, as
JSON on standard output::

    {"matches": [{"mentee": "a", "mentor": "x", "score": 3.5}], "unmatched": ["b"],
     "total_score": 3.5, "matched": 1, "certified_optimal": true}

Exit status: 0 solved, 2 the instance is not valid (the message names the field and the problem).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import from_json

from mentoring.matching import engine, match_cohort
from mentoring.models import Application, Role
from mentoring.scheme import get_scheme


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow")


class Person(_Strict):
    id: str = Field(min_length=1)


class Mentor(Person):
    capacity: int = Field(default=1, ge=0)


class Instance(_Strict):
    """The people, checked with pydantic; the pairs (millions of them, for a national cohort) are
    read apart into arrays (``read_pairs``), never as a model each."""

    mentees: list[Person]
    mentors: list[Mentor]
    scheme: str | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> Instance:
        for role, people in (("mentees", self.mentees), ("mentors", self.mentors)):
            ids = [p.id for p in people]
            if len(set(ids)) != len(ids):
                raise ValueError(f"{role}: an id is used twice")
        return self


class InstanceFileError(ValueError):
    """A problem with the instance; the message starts with the field, as pydantic's do."""


_PAIR_KEYS = ("mentee", "mentor", "score")


def read_instance(raw: bytes) -> tuple[Instance, engine.Pairs | None]:
    """The instance and its pairs as arrays (None: the scheme makes them).

    pydantic-core's JSON reader (Rust) reads the file about twice as fast as the standard library
    and keeps one copy of each repeated id.
    """
    try:
        document = from_json(raw, allow_inf_nan=False, cache_strings=True)
    except ValueError as error:
        raise InstanceFileError(f"(top level): not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise InstanceFileError("(top level): the instance is a JSON object")
    rows = document.pop("pairs", None)
    instance = Instance.model_validate(document)
    if rows is None:
        if instance.scheme is None:
            raise InstanceFileError("(top level): give either pairs, or a scheme whose rules make the pairs")
        return instance, None
    return instance, read_pairs(rows, instance)


def read_pairs(rows: object, instance: Instance) -> engine.Pairs:
    if not isinstance(rows, list):
        raise InstanceFileError("pairs: a list of pairs")
    mentee_index = {p.id: i for i, p in enumerate(instance.mentees)}
    mentor_index = {p.id: j for j, p in enumerate(instance.mentors)}
    mentee = np.empty(len(rows), dtype=np.int64)
    mentor = np.empty(len(rows), dtype=np.int64)
    score = np.empty(len(rows), dtype=np.float64)
    for k, row in enumerate(rows):
        a, b, s = _pair_fields(k, row)
        i, j = mentee_index.get(a), mentor_index.get(b)
        if i is None:
            raise InstanceFileError(f"pairs.{k}.mentee: {a!r} is not one of the mentees")
        if j is None:
            raise InstanceFileError(f"pairs.{k}.mentor: {b!r} is not one of the mentors")
        if not math.isfinite(s):
            raise InstanceFileError(f"pairs.{k}.score: a finite number")
        mentee[k], mentor[k], score[k] = i, j, s
    rows.clear()  # the parsed pairs go now, before the engine needs the memory
    key = mentee * max(len(instance.mentors), 1) + mentor
    order = np.argsort(key, kind="stable")
    twice = np.flatnonzero(key[order][1:] == key[order][:-1])
    if twice.size:
        # Stable sort: of two equal keys the later in the file comes second; name the first such.
        raise InstanceFileError(f"pairs.{int(order[twice + 1].min())}: this pair is listed twice")
    return engine.Pairs(mentee, mentor, score)


def _pair_fields(k: int, row: object) -> tuple[str, str, float]:
    if type(row) is dict and len(row) == 3:  # the usual case, checked quickly
        a, b, s = row.get("mentee"), row.get("mentor"), row.get("score")
        if type(a) is str and type(b) is str and isinstance(s, float | int) and type(s) is not bool:
            return a, b, float(s)
    if not isinstance(row, dict):
        raise InstanceFileError(f"pairs.{k}: a pair is an object with mentee, mentor and score")
    for name in row:
        if name not in _PAIR_KEYS:
            raise InstanceFileError(f"pairs.{k}.{name}: Extra inputs are not permitted")
    for name in _PAIR_KEYS:
        if name not in row:
            raise InstanceFileError(f"pairs.{k}.{name}: Field required")
    for name in ("mentee", "mentor"):
        if not isinstance(row[name], str):
            raise InstanceFileError(f"pairs.{k}.{name}: Input should be a valid string")
    if type(row["score"]) not in (int, float):
        raise InstanceFileError(f"pairs.{k}.score: Input should be a valid number")
    return row["mentee"], row["mentor"], float(row["score"])


def solve_instance(instance: Instance, pairs: engine.Pairs | None, stable: bool = False) -> dict[str, Any]:
    if pairs is None:
        return _by_scheme(instance)
    capacity = [m.capacity for m in instance.mentors]
    solution = (engine.stable if stable else engine.solve)(len(instance.mentees), capacity, pairs)
    mentor_of = solution.mentor_of.tolist()
    matches = [
        {
            "mentee": instance.mentees[i].id,
            "mentor": instance.mentors[j].id,
            "score": float(solution.score_of[i]),
        }
        for i, j in enumerate(mentor_of)
        if j != engine.UNMATCHED
    ]
    return {
        "matches": matches,
        "unmatched": [p.id for i, p in enumerate(instance.mentees) if mentor_of[i] == engine.UNMATCHED],
        "total_score": solution.total_score,
        "matched": solution.matched,
        "certified_optimal": solution.certified_optimal,
        "policy": "stable" if stable else "optimal",
    }


def _by_scheme(instance: Instance) -> dict[str, Any]:
    scheme = get_scheme(instance.scheme or "")

    def application(person: Person, role: Role, where: str) -> Application:
        try:
            return Application.model_validate(
                person.model_dump() | {"application_id": person.id, "role": role}
            )
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"{where}.{field}: {first['msg']}") from None

    mentees = [application(p, Role.MENTEE, f"mentees.{k}") for k, p in enumerate(instance.mentees)]
    mentors = [application(p, Role.MENTOR, f"mentors.{k}") for k, p in enumerate(instance.mentors)]
    result = match_cohort(scheme, "what-if", mentees, mentors)
    return {
        "matches": [
            {"mentee": m.mentee_id, "mentor": m.mentor_id, "score": m.score, "explanation": m.explanation}
            for m in result.matches
        ],
        "unmatched": [u.application_id for u in result.unmatched_mentees],
        "unmatched_reasons": {u.application_id: u.reason for u in result.unmatched_mentees},
        "total_score": result.total_score,
        "matched": len(result.matches),
        "certified_optimal": result.certified_optimal,
        "policy": result.policy,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mentoring.matching",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("instance", type=Path, help="the instance file (JSON)")
    parser.add_argument("--stable", action="store_true", help="a stable matching instead of the optimal one")
    args = parser.parse_args(argv)
    try:
        instance, pairs = read_instance(args.instance.read_bytes())
        result = solve_instance(instance, pairs, stable=args.stable)
    except OSError as error:
        print(f"{args.instance}: cannot be read: {error.strerror}", file=sys.stderr)
        return 2
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors(include_url=False)
        )
        print(f"{args.instance}: {problems}", file=sys.stderr)
        return 2
    except (ValueError, LookupError) as error:
        print(f"{args.instance}: {error}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
