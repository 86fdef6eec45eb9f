"""A cohort through its whole programme on the local stack, the runtime's clock moved from its
recruitment deadline to the end of its evaluation: the runtime fires each date's schedule when its
time comes; people act only through the links in their emails and the console's pages; every email
arrives once; one pair ends early and is re-matched; the evaluation is answered; and the console's
programme view and the evaluation report show what happened, and no more."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from mentoring.evaluation import questions
from mentoring.models import Role, StaffRole
from mentoring.programme import LONDON
from mentoring.scheme import get_scheme
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from infrastructure.local.client import ApiClient
from infrastructure.local.provision import sent_emails
from infrastructure.local.runtime import LocalRuntime
from tests.conftest import free_port
from tests.e2e.test_console_in_browser import Visit, add_person, axe_script, click, sign_in
from tests.integration.helpers import applicant_submission

pytestmark = pytest.mark.e2e

LINK = re.compile(r"(https?://\S+/programme/[a-z0-9-]+)\?token=([A-Za-z0-9_-]{43})")
MENTEES, MENTORS = 6, 7
SCHEME = "B-MEntor Professional"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """A stack of its own: its clock is moved months ahead, which would fire other tests' dates."""
    folder = tmp_path_factory.mktemp("whole-programme")
    with LocalRuntime(
        api_port=free_port(), aws_port=free_port(), outbox=None, logs=folder / "logs", rate_limits=False
    ) as started:
        yield started


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    role: str


@dataclass
class Programme:
    runtime: LocalRuntime
    cohort_id: str
    deadline: datetime
    starts: date
    training: date
    ends: date
    people: dict[str, Person]
    links: dict[str, tuple[str, str]]  # name -> (page, token), read from the emails

    def at(self, on: date, hour: int = 12) -> datetime:
        return datetime.combine(on, time(hour), LONDON)

    def move_to(self, moment: datetime) -> None:
        """The clock moves; the runtime fires what is due by then, and the pipeline settles."""
        self.runtime.clock.move_to(moment)
        self.runtime.fire_due(self.runtime.clock.now())
        self.runtime.wait_until_drained()

    def record(self, name: str, **fields: str) -> requests.Response:
        """What the person's browser sends from the page their emailed link opened."""
        page, token = self.links[name]
        return requests.post(page, data={"token": token, **fields}, timeout=300)

    def read_links(self) -> None:
        """Each person's link, as their emails carry it."""
        by_address = {p.email: p.name for p in self.people.values()}
        for to, _, text in _emails(self.runtime):
            link = LINK.search(text)
            if link and to in by_address:
                self.links[by_address[to]] = (link.group(1), link.group(2))

    def page(self, name: str) -> requests.Response:
        page, token = self.links[name]
        return requests.get(page, params={"token": token}, timeout=300)


def _session(title: str, role: str, on: date, compulsory: bool = True) -> dict[str, Any]:
    return {"title": title, "roles": [role], "date": on.isoformat(), "starts": "10:00", "ends": "11:30",
            "where": "online", "compulsory": compulsory}  # fmt: skip


def _emails(runtime: LocalRuntime, since: int = 0) -> list[tuple[str, str, str]]:
    found = []
    for _, raw in sent_emails(runtime.aws_endpoint)[since:]:
        message = message_from_bytes(raw, policy=policy.default)
        text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        payload = text.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found.append((str(message["To"]), str(message["Subject"]), payload.decode()))
    return found


@pytest.fixture(scope="module")
def programme(runtime: LocalRuntime) -> Programme:
    """A cohort opened with its own calendar (two training sessions, a celebration, 17 weeks), six
    mentees and seven mentors applied through the form and confirmed, matched at its deadline."""
    api = ApiClient(runtime.api_url)
    cohort_id = f"whole-{uuid.uuid4().hex[:8]}"
    deadline = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    starts = deadline.astimezone(LONDON).date() + timedelta(days=1)
    training, ends = starts + timedelta(days=14), starts + timedelta(weeks=17)
    opened = api.signed("POST", "/cohorts", {
        "cohort_id": cohort_id, "scheme_id": "b-mentor-professional", "name": "Whole programme",
        "recruitment_deadline": deadline.isoformat(), "coordinator_email": "edi@example.ac.uk",
        "calendar": {
            "training": [_session("Mentee induction", "mentee", training),
                         _session("Mentor briefing", "mentor", training + timedelta(days=1))],
            "programme_starts": starts.isoformat(), "programme_ends": ends.isoformat(),
            "events": [{**_session("Celebration", "mentee", ends - timedelta(days=7), False),
                        "roles": ["mentee", "mentor"]}],
            "minimum_meetings": 3,
        },
    })  # fmt: skip
    assert opened.status == 201, opened.body
    people: dict[str, Person] = {}
    for i in range(MENTEES + MENTORS):
        role = "mentee" if i < MENTEES else "mentor"
        name = f"{role[:3]}{i}"
        email = f"{name}-{cohort_id}@example.ac.uk"
        institution, grade = ("UCL", 6) if role == "mentee" else ("KCL", 9)
        submission = applicant_submission(
            cohort_id, role=role, institution=institution, grade=grade, email=email, capacity=1
        )
        submission["applicant"]["given_name"] = name.capitalize()
        assert api.apply(submission).status == 202
        assert api.confirm(runtime.confirmation_link(email)).status == 200
        people[name] = Person(name, email, role)
    runtime.wait_until_drained()
    found = Programme(runtime, cohort_id, deadline, starts, training, ends, people, {})
    found.move_to(deadline + timedelta(minutes=1))
    found.read_links()
    return found


def _pair_of(programme: Programme, mentee: str) -> str:
    """The mentor the mentee's page names (as the mentee reads it)."""
    body = programme.page(mentee).text
    return next(
        n for n, p in programme.people.items() if p.role == "mentor" and f"{n.capitalize()} Family" in body
    )


def test_a_cohort_runs_its_whole_programme_and_the_console_shows_what_happened(
    programme: Programme, browser: WebDriver
) -> None:
    p, runtime = programme, programme.runtime
    mentees = [n for n, person in p.people.items() if person.role == "mentee"]
    # Every matched person's emails carry their link (the free mentor was told they were not matched).
    assert len(p.links) == MENTEES * 2
    pairs = {m: _pair_of(p, m) for m in mentees}
    free = next(n for n, person in p.people.items() if person.role == "mentor" and n not in pairs.values())
    first, ended, silent, helped = mentees[0], mentees[5], mentees[4], mentees[3]
    before = len(sent_emails(runtime.aws_endpoint))

    # The day after the mentees' induction: four mentees confirm it from their links; each pair but
    # one records a first meeting (the first pair's mentor records the same meeting too).
    p.move_to(p.at(p.training + timedelta(days=1)))
    induction = f"training.{p.training:%Y%m%d}.mentee-induction"
    for mentee in mentees[:4]:
        assert p.record(mentee, action="training", session=induction).status_code == 200
    met = (p.starts + timedelta(days=3)).isoformat()
    for mentee in mentees[:4]:
        assert p.record(mentee, action="meeting", on=met, minutes="45", mode="online").status_code == 200
    assert p.record(pairs[first], action="meeting", on=met, minutes="60", mode="in_person").status_code == 200
    assert p.record(helped, action="help", message="We cannot find a room.").status_code == 200
    # One pair ends early, from the mentor's link.
    assert (
        p.record(pairs[ended], action="end", confirm="yes", reason="Leaving the university").status_code
        == 200
    )

    # The coordinator re-matches that mentee from the programme view, in the browser.
    add_person(SimpleNamespace(runtime=runtime), "whole-coordinator@example.ac.uk", "Whole Coordinator",  # type: ignore[arg-type]
               StaffRole.COORDINATOR, schemes=("b-mentor-professional",))  # fmt: skip
    visit = Visit(browser, axe_script())
    sign_in(browser, SimpleNamespace(runtime=runtime), "whole-coordinator@example.ac.uk")  # type: ignore[arg-type]
    browser.get(f"{runtime.api_url}/console/cohorts/{p.cohort_id}/programme")
    visit.check("programme")
    choice = Select(browser.find_element(By.CSS_SELECTOR, "select[id^='mentor_id-']"))
    offered = [o.text for o in choice.options]
    assert any(o.startswith(f"{free.capitalize()} ") for o in offered), offered
    assert not any(o.startswith(f"{pairs[ended].capitalize()} ") for o in offered)  # never the one who left
    choice.select_by_visible_text(next(o for o in offered if o.startswith(f"{free.capitalize()} ")))
    click(browser, "Re-match and email both")
    runtime.wait_until_drained()
    assert p.record(ended, action="meeting", on=(p.training + timedelta(days=1)).isoformat(), minutes="30",
                    mode="online").status_code == 200  # fmt: skip

    # Six weeks after matching, the nudge reaches only the pair that has not met; the first pair
    # meets twice more; then the check-in, the celebration's invitation and the end.
    p.move_to(p.deadline + timedelta(weeks=6, hours=12))
    for days in (30, 40):
        day_met = (p.starts + timedelta(days=days)).isoformat()
        p.move_to(p.at(p.starts + timedelta(days=days)))
        assert p.record(first, action="meeting", on=day_met, minutes="50", mode="online").status_code == 200
    p.move_to(p.at(p.ends, 10))

    sent = _emails(runtime, before)
    counts = Counter((to, subject) for to, subject, _ in sent)
    assert set(counts.values()) == {1}, [k for k, v in counts.items() if v > 1]
    nudged = sorted(to for to, subject in counts if subject == f"{SCHEME}: have you met yet?")
    assert nudged == sorted([p.people[silent].email, p.people[pairs[silent]].email])
    ended_by = {to for to, subject in counts if "tell us how it went" in subject}
    assert ended_by == {p.people[n].email for n in [*mentees, *pairs.values(), free]}
    new_pair = {to for to, subject in counts if subject.startswith(f"{SCHEME}: meet your")}
    assert new_pair == {p.people[ended].email, p.people[free].email}

    # On the programme's last day everyone answers the evaluation from their page (three mentees
    # would mentor next year); the next hourly sweep stores the answers in one batch.
    p.read_links()  # the re-matched mentor's link came with the new pair's email
    scheme = get_scheme("b-mentor-professional")
    for name, person in p.people.items():
        role = Role(person.role)
        answers = {q.id: q.options[0].value for q in questions(scheme, role)}
        yes = {"next_year": "yes"} if name in mentees[:3] else {}
        reply = p.record(name, action="evaluation", **answers, **yes)
        assert reply.status_code == 200, (name, reply.text[-500:])
    again = p.record(
        mentees[0], action="evaluation", **{q.id: q.options[0].value for q in questions(scheme, Role.MENTEE)}
    )
    assert again.status_code == 422
    assert "answered the evaluation already" in again.text
    p.move_to(p.at(p.ends + timedelta(days=1), 10))
    runtime.fire_rate_schedules(runtime.clock.now())
    runtime.wait_until_drained()

    # The console's programme view shows what happened.
    sign_in(browser, SimpleNamespace(runtime=runtime), "whole-coordinator@example.ac.uk")  # type: ignore[arg-type]
    browser.get(f"{runtime.api_url}/console/cohorts/{p.cohort_id}/programme")
    visit.check("programme-after")
    summary = browser.find_element(By.ID, "programme-summary").text
    assert "Current pairs\n6" in summary
    assert "Reached the minimum of 3 meetings\n1" in summary
    assert "Ended early\n1" in summary
    assert "Re-matched\n1" in summary
    assert "Requests for help\n1" in summary
    training = browser.find_element(By.ID, "programme-training").text
    assert "Mentee induction (" in training
    assert "4 of 6" in training
    attention = browser.find_element(By.ID, "attention-list").text
    assert "We cannot find a room." in attention
    assert "below the scheme's 3" in attention
    assert "No meeting recorded 6 weeks after matching" in attention

    # The evaluation report: all thirteen answered, every answer the first of its question's.
    browser.get(f"{runtime.api_url}/console/cohorts/{p.cohort_id}/evaluation")
    visit.check("evaluation")
    first = browser.find_element(By.CSS_SELECTOR, "main table")
    rows = [
        [c.text for c in r.find_elements(By.CSS_SELECTOR, "th, td")]
        for r in first.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]
    chosen, others = rows[0], rows[1:]
    assert chosen[0] == questions(scheme, Role.MENTEE)[0].options[0].label
    # Each published count is the true one (6 mentees, 7 mentors, 13 in all) rounded to a multiple
    # of 5, at most 4 away; nobody chose another answer.
    for shown, truth in zip(chosen[1:4], (MENTEES, MENTORS, MENTEES + MENTORS), strict=True):
        assert int(shown) % 5 == 0
        assert abs(int(shown) - truth) <= 4, (shown, truth)
    assert all(cell in {"\u2013", "0"} for row in others for cell in row[1:4]), others
    # Next year's invitation list: the three mentees who said yes, by name.
    browser.get(f"{runtime.api_url}/console/cohorts/{p.cohort_id}/next-year")
    invited = browser.find_element(By.TAG_NAME, "main").text
    assert sorted(n for n in p.people if f"{n.capitalize()} Family" in invited) == sorted(mentees[:3])
