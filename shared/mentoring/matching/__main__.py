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
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mentoring.matching import engine, match_cohort
from mentoring.models import Application, Role
from mentoring.scheme import get_scheme


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow")


class Person(_Strict):
    id: str = Field(min_length=1)


class Mentor(Person):
    capacity: int = Field(default=1, ge=0)


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mentee: str
    mentor: str
    score: float = Field(allow_inf_nan=False)


class Instance(_Strict):
    mentees: list[Person]
    mentors: list[Mentor]
    pairs: list[Pair] | None = None
    scheme: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Instance:
        for role, people in (("mentees", self.mentees), ("mentors", self.mentors)):
            ids = [p.id for p in people]
            if len(set(ids)) != len(ids):
                raise ValueError(f"{role}: an id is used twice")
        if self.pairs is None and self.scheme is None:
            raise ValueError("give either pairs, or a scheme whose rules make the pairs")
        if self.pairs is not None:
            mentees, mentors = {p.id for p in self.mentees}, {p.id for p in self.mentors}
            seen = set()
            for k, pair in enumerate(self.pairs):
                if pair.mentee not in mentees:
                    raise ValueError(f"pairs.{k}.mentee: {pair.mentee!r} is not one of the mentees")
                if pair.mentor not in mentors:
                    raise ValueError(f"pairs.{k}.mentor: {pair.mentor!r} is not one of the mentors")
                if (pair.mentee, pair.mentor) in seen:
                    raise ValueError(f"pairs.{k}: this pair is listed twice")
                seen.add((pair.mentee, pair.mentor))
        return self


def solve_instance(instance: Instance, stable: bool = False) -> dict[str, Any]:
    if instance.pairs is None:
        return _by_scheme(instance)
    mentee_index = {p.id: i for i, p in enumerate(instance.mentees)}
    mentor_index = {p.id: j for j, p in enumerate(instance.mentors)}
    pairs = engine.Pairs.of(
        [mentee_index[p.mentee] for p in instance.pairs],
        [mentor_index[p.mentor] for p in instance.pairs],
        [p.score for p in instance.pairs],
    )
    capacity = [m.capacity for m in instance.mentors]
    solver = engine.stable if stable else engine.solve
    solution = solver(len(instance.mentees), capacity, pairs)
    matches = [
        {
            "mentee": instance.mentees[i].id,
            "mentor": instance.mentors[j].id,
            "score": float(solution.score_of[i]),
        }
        for i, j in enumerate(solution.mentor_of.tolist())
        if j != engine.UNMATCHED
    ]
    return {
        "matches": matches,
        "unmatched": [
            p.id for i, p in enumerate(instance.mentees) if solution.mentor_of[i] == engine.UNMATCHED
        ],
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
        instance = Instance.model_validate_json(args.instance.read_bytes())
        result = solve_instance(instance, stable=args.stable)
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
