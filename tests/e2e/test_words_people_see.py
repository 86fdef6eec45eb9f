"""The demo as `make demo` runs it, read as its applicants read it: no email or page they see
carries an internal identifier (a rule id, an enum value, a field name), a count in brackets, or a
time in UTC."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
import requests
from mentoring.scheme import load_schemes

from infrastructure.local.__main__ import COORDINATOR, demo
from infrastructure.local.client import ApiClient
from infrastructure.local.runtime import LocalRuntime
from tests.conftest import free_port

pytestmark = pytest.mark.e2e

EXAMPLE_MENTEE = {
    "role": "mentee",
    "applicant.given_name": "Amara",
    "applicant.family_name": "Okafor",
    "applicant.email": "amara.words@ucl.example.ac.uk",
    "applicant.institution": "UCL",
    "applicant.department": "Finance",
    "applicant.job_title": "Finance Officer",
    "applicant.grade": "6",
    "self_identification.minority_ethnic_background": "yes",
    "self_identification.staff_group": "professional_services",
    "profile.skills": "budgeting",
    "consent": "yes",
}
# snake_case and SCREAMING_CASE words, counts in brackets, points, and UTC.
INTERNAL = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[A-Z]+_[A-Z_]+\b|\(\d+\)|\(\+\d|\bUTC\b")
# A link is an address, not words: its random token (a confirmation's, a personal link's) can
# hold "ab_cd" by chance (about one token in a thousand).
LINK = re.compile(r"https?://\S+")


class _Visible(HTMLParser):
    """The text a person sees on a page: no tags, attributes, styles or scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"style", "script"}:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in {"style", "script"}:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts)


@dataclass
class Seen:
    emails: dict[str, str]
    pages: dict[str, str]


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seen]:
    """Given the demo run to its end, and the pages of a cohort of every scheme."""
    folder = tmp_path_factory.mktemp("demo")
    with LocalRuntime(
        api_port=free_port(),
        aws_port=free_port(),
        outbox=folder / "outbox",
        logs=folder / "logs",
        log=None,
        rate_limits=False,  # as make demo runs: its whole intake comes from this one address
    ) as runtime:
        assert demo(runtime) == 0
        runtime.sync_outbox()
        assert runtime.outbox is not None
        emails = {}
        for path in sorted(runtime.outbox.glob("*.eml")):
            message = message_from_bytes(path.read_bytes())
            if message["To"] == COORDINATOR:
                continue  # the coordinator's emails are for the EDI team, who use the console's words
            for part in message.walk():
                if part.get_content_type() in {"text/plain", "text/html"}:
                    text = part.get_payload(decode=True).decode()
                    shown = visible(text) if part.get_content_type() == "text/html" else text
                    emails[f"{path.name} {part.get_content_type()}"] = (
                        f"{message['Subject']}\n{LINK.sub('', shown)}"
                    )
        yield Seen(emails, _pages(runtime))


def _pages(runtime: LocalRuntime) -> dict[str, str]:
    api = ApiClient(runtime.api_url)
    pages = {}
    deadline = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0).isoformat()
    for scheme in sorted(load_schemes()):
        cohort_id = f"words-{scheme}"[:60]
        request = {"cohort_id": cohort_id, "scheme_id": scheme, "name": f"{scheme} words"}
        request |= {"recruitment_deadline": deadline, "coordinator_email": COORDINATOR}
        reply = api.signed("POST", "/cohorts", request)
        assert reply.status == 201, reply.body
        pages[f"form of {scheme}"] = requests.get(f"{runtime.api_url}/?cohort={cohort_id}", timeout=60).text
        mistaken = requests.post(
            f"{runtime.api_url}/applications",
            data=urlencode({"cohort_id": cohort_id, "role": "mentee", "applicant.email": "not an address"}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=60,
        )
        pages[f"form of {scheme} with errors"] = mistaken.text
    accepted = requests.post(
        f"{runtime.api_url}/applications",
        data=urlencode({"cohort_id": "words-b-mentor-professional", **EXAMPLE_MENTEE}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=60,
    )
    assert accepted.status_code == 202, accepted.text
    pages["application held: check your email"] = accepted.text
    token = runtime.confirmation_link(EXAMPLE_MENTEE["applicant.email"])
    link = f"{runtime.api_url}/applications/confirm"
    pages["the page the emailed link opens"] = requests.get(link, params={"token": token}, timeout=60).text
    confirmed = requests.post(
        link,
        data=urlencode({"token": token}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=60,
    )
    assert confirmed.status_code == 200, confirmed.text
    pages["application confirmed"] = confirmed.text
    pages["the list of open cohorts"] = requests.get(f"{runtime.api_url}/", timeout=60).text
    listed = runtime.client("dynamodb").query(
        TableName=runtime.physical["ApplicationsTable"]["Ref"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "COHORTS"}},
    )["Items"]
    closed = sorted(i["sk"]["S"].removeprefix("COHORT#") for i in listed if "#demo-" in i["sk"]["S"])
    for cohort_id in closed:
        page = requests.get(f"{runtime.api_url}/?cohort={cohort_id}", timeout=60).text
        assert "are closed" in page
        pages[f"closed cohort {cohort_id}"] = page
    return {name: visible(html) for name, html in pages.items()}


def test_the_demo_sent_applicants_emails_of_every_kind(seen: Seen) -> None:
    subjects = " ".join(text.split("\n", 1)[0] for text in seen.emails.values())

    for kind in (
        "we have received your application",
        "meet your mentor",
        "meet your mentee",
        "outcome of matching",
    ):
        assert kind in subjects


def test_no_email_an_applicant_reads_carries_an_internal_identifier(seen: Seen) -> None:
    found = {name: INTERNAL.findall(text) for name, text in seen.emails.items()}

    assert {name: words for name, words in found.items() if words} == {}


def test_no_page_an_applicant_sees_carries_an_internal_identifier(seen: Seen) -> None:
    found = {name: INTERNAL.findall(text) for name, text in seen.pages.items()}

    assert {name: words for name, words in found.items() if words} == {}
    assert any(name.startswith("closed cohort") for name in seen.pages), "the demo's closed cohort was read"
