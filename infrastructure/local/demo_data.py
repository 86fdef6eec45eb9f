"""Demo intakes: a realistic synthetic one for B-MEntor Professional, the same every run (fixed
seed), and the example intakes of the other schemes (``tests/examples``)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from mentoring.institutions import load_institutions
from mentoring.models import AgeBand, Ethnicity, Gender, Religion, SexualOrientation, YesNo

EXAMPLES = Path(__file__).resolve().parents[2] / "tests" / "examples"

INSTITUTIONS = ["UCL", "KCL", "QMUL", "UAL", "SGUL"]
GIVEN = [
    "Amara",
    "Kwame",
    "Priya",
    "Wei",
    "Fatima",
    "Tomasz",
    "Aisha",
    "Deepak",
    "Grace",
    "Yusuf",
    "Mei",
    "Chidi",
    "Sana",
    "Oliver",
    "Leila",
    "Imran",
    "Nia",
    "Rohan",
    "Zara",
    "Daniel",
    "Hannah",
    "Kofi",
    "Anjali",
    "Samuel",
    "Farah",
    "Jamal",
    "Lucy",
    "Ravi",
    "Esther",
    "Hamza",
]
FAMILY = [
    "Okafor",
    "Mensah",
    "Patel",
    "Zhang",
    "Hussain",
    "Nowak",
    "Begum",
    "Sharma",
    "Adeyemi",
    "Khan",
    "Lin",
    "Eze",
    "Ahmed",
    "Smith",
    "Haddad",
    "Iqbal",
    "Boateng",
    "Gupta",
    "Ali",
    "Brown",
]
DEPARTMENTS = [
    "Finance",
    "Human Resources",
    "Estates",
    "Research Services",
    "Student Services",
    "IT Services",
    "Library",
    "Registry",
    "Communications",
    "Planning",
]
SKILLS = [
    "budgeting",
    "leadership",
    "project management",
    "data analysis",
    "negotiation",
    "public speaking",
    "change management",
    "people management",
    "strategy",
    "stakeholder engagement",
]
GOALS = ["promotion", "leadership", "confidence", "networking", "career change", "senior management"]
MONITORING: dict[str, tuple[str, ...]] = {
    "ethnicity": get_args(Ethnicity),
    "gender": get_args(Gender),
    "trans_history": get_args(YesNo),
    "sexual_orientation": get_args(SexualOrientation),
    "disability": get_args(YesNo),
    "religion": get_args(Religion),
    "age_band": get_args(AgeBand),
}
MINORITY = [e for e in get_args(Ethnicity) if not e.startswith("white") and e != "prefer_not_to_say"]


@dataclass
class Intake:
    web_form: list[dict[str, Any]] = field(default_factory=list)
    partner_batches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    malformed: list[dict[str, Any]] = field(default_factory=list)


def local_grade(institution: str, level: int) -> str:
    """The institution's own name for the grade nearest ``level`` on the common scale."""
    grades = load_institutions()[institution].grades
    return min(grades, key=lambda label: (abs(grades[label] - level), grades[label]))


def _person(
    rng: random.Random, n: int, cohort_id: str, role: str, grade: int, institution: str, minority: str
) -> dict[str, Any]:
    given, family = GIVEN[n % len(GIVEN)], FAMILY[(n * 7) % len(FAMILY)]
    monitoring = {k: rng.choice(v) for k, v in MONITORING.items()}
    if minority == "yes":
        monitoring["ethnicity"] = rng.choice(MINORITY)
    return {
        "cohort_id": cohort_id,
        "role": role,
        "applicant": {
            "given_name": given,
            "family_name": family,
            "email": f"{given.lower()}.{family.lower()}{n}@{institution.lower()}.example.ac.uk",
            "staff_number": f"{institution}-{10000 + n}",
            "institution": institution,
            "department": rng.choice(DEPARTMENTS),
            "job_title": "Head of Service" if role == "mentor" else "Officer",
            "grade": local_grade(institution, grade),
        },
        "self_identification": (
            {"minority_ethnic_background": minority, "staff_group": "professional_services"}
            if role == "mentee"
            else {"staff_group": "professional_services"}
        ),
        "profile": {
            "skills": rng.sample(SKILLS, 3),
            "career_goals": rng.sample(GOALS, 2),
            **({"capacity": rng.choice([1, 1, 2])} if role == "mentor" else {}),
            "about": "",
        },
        "monitoring": monitoring,
        "consent": True,
    }


def intake(cohort_id: str, mentees: int = 30, mentors: int = 14, seed: int = 2027) -> Intake:
    """Mentees and mentors across the partners, some ineligible, plus a few malformed submissions.

    Half of each partner's applicants come through its partner batch, the rest through the web form.
    """
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    people = []
    for n in range(mentees):
        institution = INSTITUTIONS[n % len(INSTITUTIONS)]
        if n % 10 == 7:  # ineligible: grade above the mentee range
            people.append(_person(rng, n, cohort_id, "mentee", 9, institution, "yes"))
        elif n % 10 == 9:  # ineligible: does not self-identify as from a minority ethnic background
            people.append(_person(rng, n, cohort_id, "mentee", 6, institution, "no"))
        else:
            people.append(_person(rng, n, cohort_id, "mentee", rng.choice([5, 6, 7]), institution, "yes"))
    for n in range(mentees, mentees + mentors):
        institution = INSTITUTIONS[n % len(INSTITUTIONS)]
        grade = 7 if n % 9 == 0 else rng.choice([8, 9, 10])  # grade 7 mentors are ineligible
        people.append(_person(rng, n, cohort_id, "mentor", grade, institution, rng.choice(["yes", "no"])))
    result = Intake()
    for i, person in enumerate(people):
        if i % 2:
            institution = person["applicant"].pop("institution")
            person["reference"] = f"{institution}-HR-{20000 + i}"  # the partner's own id for it
            result.partner_batches.setdefault(institution, []).append(person)
        else:
            result.web_form.append(person)
    bad_email = _person(rng, 900, cohort_id, "mentee", 6, "UCL", "yes")
    bad_email["applicant"]["email"] = "not-an-email"
    no_consent = _person(rng, 901, cohort_id, "mentor", 9, "KCL", "no")
    no_consent["consent"] = False
    bad_grade = _person(rng, 902, cohort_id, "mentee", 6, "QMUL", "yes")
    bad_grade["applicant"]["grade"] = 12
    bad_grade["monitoring"]["religion"] = "jedi"
    result.malformed = [bad_email, no_consent, bad_grade]
    return result


def example_intake(scheme_id: str, cohort_id: str, seed: int = 2027) -> list[dict[str, Any]]:
    """A scheme's example applications (as its tests use them), for a web-form demo of it."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    examples = yaml.safe_load((EXAMPLES / f"{scheme_id}.yaml").read_text(encoding="utf-8"))["applications"]
    return [
        {
            "cohort_id": cohort_id,
            **{k: v for k, v in example.items() if k != "expect"},
            "monitoring": {k: rng.choice(v) for k, v in MONITORING.items()},
            "consent": True,
        }
        for example in examples
    ]
