"""The console as its users use it: Debian's Chromium, headless, against the local stack. Each role
signs in; the coordinator does a whole round; axe-core checks every page against WCAG 2.2 AA, and
every page is used from the keyboard at 320px wide. Screenshots go to build/screenshots/."""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from mentoring.models import StaffRole
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait

from infrastructure.staff import add_staff_member
from tests.e2e.conftest import DOWNLOADS, PAGE_WAIT, SCREENSHOTS, OpenStack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
PASSWORD = "Browser-Round-2027!"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PILOT = ROOT / "tests" / "examples" / "womens-mentoring-pilot.yaml"


def axe_script() -> str:
    found = sorted((ROOT / "build" / "axe").glob("axe-*.min.js"))
    if not found:
        message = "axe-core is not fetched (make axe fetches it with npm)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found[-1].read_text(encoding="utf-8")


@dataclass
class Visit:
    """Checks each page the round reaches: WCAG 2.2 AA with axe-core, a screenshot, and its
    address for the keyboard check at 320px."""

    browser: WebDriver
    axe: str
    pages: list[tuple[str, str]] = field(default_factory=list)

    def check(self, name: str, revisit: bool = True) -> None:
        self.browser.execute_script(self.axe)
        result = self.browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}}).then(done);",
            WCAG_22_AA,
        )
        problems = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
        ]
        self.browser.save_screenshot(str(SCREENSHOTS / f"console-{len(self.pages):02d}-{name}.png"))
        assert problems == [], f"{name}: {problems}"
        if revisit:
            self.pages.append((name, self.browser.current_url))
        else:  # a step its address does not bring back: checked at 320px as it stands
            self.browser.set_window_size(320, 900)
            try:
                keyboard_at_320(self.browser, name)
            finally:
                self.browser.set_window_size(1024, 1400)


def add_person(stack: OpenStack, email: str, name: str, role: StaffRole, **details: Any) -> None:
    runtime = stack.runtime
    add_staff_member(
        runtime.client("cognito-idp"),
        runtime.client("dynamodb"),
        runtime.physical["ConsoleUserPool"]["Ref"],
        runtime.physical["ApplicationsTable"]["Ref"],
        email=email,
        name=name,
        role=role,
        **{"password": PASSWORD, **details},
    )


@pytest.fixture(scope="module")
def people(open_stack: OpenStack) -> dict[str, str]:
    found = {}
    for role, schemes, institution in [
        (StaffRole.COORDINATOR, ("womens-mentoring-pilot", "b-mentor-professional"), None),
        (StaffRole.ADMINISTRATOR, (), None),
        (StaffRole.PARTNER_LEAD, (), "UCL"),
    ]:
        email = f"browser-{role.value}@example.ac.uk"
        name = f"Browser {role.value.replace('_', ' ').title()}"
        add_person(open_stack, email, name, role, schemes=schemes, institution=institution)
        found[role.value] = email
    return found


@pytest.fixture
def visit(browser: WebDriver) -> Visit:
    browser.set_window_size(1024, 1400)
    return Visit(browser, axe_script())


def sign_in(browser: WebDriver, stack: OpenStack, email: str, visit: Visit | None = None) -> None:
    browser.delete_all_cookies()
    browser.get(f"{stack.runtime.api_url}/console")
    if visit is not None:
        visit.check("sign-in")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    WebDriverWait(browser, PAGE_WAIT).until(lambda b: b.title.startswith("Cohorts"))


def says_done(browser: WebDriver, words: str) -> None:
    """Waits for the banner saying what was done (a form's post and its redirect can outlast the
    click on a busy machine): it must say ``words``."""
    WebDriverWait(browser, 20).until(
        lambda b: any(words in e.text for e in b.find_elements(By.CSS_SELECTOR, "[role=status]")),
        f"no banner saying {words!r} on {browser.current_url}",
    )


def click(browser: WebDriver, text: str) -> None:
    """Follows the link or presses the button, and waits until the page it leads to replaced this one."""
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.XPATH, f"//main//*[self::a or self::button][normalize-space()={text!r}]").click()
    WebDriverWait(browser, 20).until(lambda _: _replaced(page))


def _replaced(page: WebElement) -> bool:
    """Whether the page's document has gone. Chromedriver answers a question about an element of a
    document being replaced either as stale or, caught mid-swap, as an element that does not
    belong to the document: both mean it has gone."""
    try:
        return staleness_of(page)(None)
    except WebDriverException as problem:
        if "does not belong to the document" in str(problem):
            return True
        raise


def pilot_intake(cohort_id: str) -> list[dict[str, Any]]:
    """The pilot's example applicants, and two more mentors, so one is left free after matching."""
    examples = yaml.safe_load(PILOT.read_text())["applications"]
    intake = [
        {"cohort_id": cohort_id, "consent": True, **{k: v for k, v in e.items() if k != "expect"}}
        for e in examples
    ]
    hedy = next(a for a in intake if a["applicant"]["given_name"] == "Hedy")
    for given, family in [("Katherine", "Johnson"), ("Rosalind", "Franklin")]:
        intake.append(
            {
                **hedy,
                "applicant": {**hedy["applicant"], "given_name": given, "family_name": family,
                              "email": f"{given.lower()}@ucl.ac.uk"},
            }
        )  # fmt: skip
    return intake


def test_a_coordinators_whole_round(
    browser: WebDriver, open_stack: OpenStack, people: dict[str, str], visit: Visit
) -> None:
    runtime = open_stack.runtime
    sign_in(browser, open_stack, people["coordinator"], visit)
    visit.check("cohorts")

    # Open a cohort of the pilot (its scheme holds matches for review).
    click(browser, "Open a cohort")
    visit.check("open-a-cohort")
    Select(browser.find_element(By.ID, "scheme_id")).select_by_value("womens-mentoring-pilot")
    name = f"Pilot browser {datetime.now(UTC):%H%M%S}"
    browser.find_element(By.ID, "name").send_keys(name)
    deadline = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT17:00")
    browser.execute_script(
        "arguments[0].value = arguments[1]", browser.find_element(By.ID, "recruitment_deadline"), deadline
    )
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    WebDriverWait(browser, PAGE_WAIT).until(lambda b: b.title.startswith(name))
    says_done(browser, "The cohort is open")
    cohort_id = browser.current_url.split("/cohorts/")[1].split("?")[0]
    visit.check("cohort-open")

    # Applications arrive through the public door while the coordinator watches.
    for submission in pilot_intake(cohort_id):
        assert open_stack.api.apply(submission).status == 202
        token = runtime.confirmation_link(submission["applicant"]["email"])
        assert open_stack.api.confirm(token).status == 200
    runtime.wait_until_drained()
    browser.refresh()
    applied = browser.find_element(By.XPATH, "//th[normalize-space()='Applied']/following-sibling::td").text
    assert applied == "2"
    visit.check("cohort-progress")
    click(browser, "Applications")
    visit.check("applications")
    Select(browser.find_element(By.ID, "status")).select_by_value("not_eligible")
    click(browser, "Show applications")  # waits for the filtered page, not the one before it
    assert "2 applications match these filters" in browser.find_element(By.ID, "count").text
    # Each one with the reason the applicant was told.
    reasons = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "table ul.reasons li")]
    assert len(reasons) >= 2
    assert all(reasons)
    browser.find_element(By.LINK_TEXT, "Beth Clark").click()
    visit.check("application")

    # Withdraw her application, at her request: the page asks why, then confirms.
    click(browser, "Withdraw this application")
    visit.check("withdraw-confirm")
    browser.find_element(By.ID, "reason-1").click()
    click(browser, "Withdraw the application")
    says_done(browser, "The application is withdrawn")

    # Close recruitment early; the deadline's schedule fires (made due now) and matching runs.
    browser.get(f"{runtime.api_url}/console/cohorts/{cohort_id}")
    withdrawn = browser.find_elements(By.XPATH, "//tr[th[normalize-space()='Withdrawn']]/td")
    assert sorted(td.text for td in withdrawn)[-1] == "1"
    click(browser, "Close recruitment now")
    visit.check("close-confirm")
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    says_done(browser, "Recruitment is closed")
    fired: list[str] = []
    for _ in range(60):
        fired += runtime.fire_due(datetime.now(UTC) + timedelta(minutes=2))
        if any(name.startswith("deadline-") for name in fired):  # not another run's lease watch
            break
        time.sleep(0.5)
    runtime.wait_until_drained()
    browser.refresh()
    visit.check("cohort-provisional")

    # Review the provisional matches; re-pair Ada with a free mentor, checked first.
    click(browser, "Review the provisional matches")
    visit.check("matches")
    free = browser.find_element(By.ID, "free").find_element(By.XPATH, "following::table[1]").text
    mentor_name = "Katherine Johnson" if "Katherine Johnson" in free else "Rosalind Franklin"
    Select(browser.find_element(By.ID, "mentee_id")).select_by_visible_text("Ada Brown")
    mentor = Select(browser.find_element(By.ID, "mentor_id"))
    mentor.select_by_visible_text(next(o.text for o in mentor.options if o.text.startswith(mentor_name)))
    click(browser, "Check this change")
    visit.check("change-check")
    assert f"Pair Ada Brown with {mentor_name}." in browser.find_element(By.TAG_NAME, "main").text
    click(browser, "Make the change")
    says_done(browser, "The pair is changed")
    pairs = browser.find_element(By.ID, "pairs-caption").find_element(By.XPATH, "..").text
    assert "Ada Brown" in pairs
    assert mentor_name in pairs

    # Publish, once.
    click(browser, "Publish the matches")
    visit.check("publish-confirm")
    click(browser, "Publish and email everyone")
    says_done(browser, "published")

    # Download the CSV.
    target = DOWNLOADS / f"{cohort_id}-matches.csv"
    target.unlink(missing_ok=True)
    browser.find_element(By.PARTIAL_LINK_TEXT, "Download the matches").click()
    WebDriverWait(browser, PAGE_WAIT).until(lambda _: target.exists() and target.stat().st_size > 0)
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert any(r["mentee"] == "Ada Brown" and r["mentor"] == mentor_name for r in rows)

    # Read the report.
    browser.get(f"{runtime.api_url}/console/cohorts/{cohort_id}")
    click(browser, "The equal-opportunities monitoring report")
    assert browser.find_elements(By.CSS_SELECTOR, "figure.chart svg")
    visit.check("report")
    # And the programme's evaluation (no figures yet), and next year's mentors (nobody yet).
    click(browser, "The programme's evaluation")
    assert "No figures yet" in browser.page_source
    visit.check("evaluation")
    click(browser, "Next year's mentors")
    visit.check("next-year")
    browser.get(f"{runtime.api_url}/console/account")
    visit.check("account")

    narrow(browser, visit)


def test_the_administrator_reads_people_and_the_audit_log(
    browser: WebDriver, open_stack: OpenStack, people: dict[str, str], visit: Visit
) -> None:
    sign_in(browser, open_stack, people["administrator"])
    visit.check("admin-cohorts")
    browser.find_element(By.LINK_TEXT, "People").click()
    visit.check("people")
    assert people["coordinator"] in browser.find_element(By.TAG_NAME, "table").text
    browser.find_element(By.LINK_TEXT, "Audit log").click()
    visit.check("audit-log")
    narrow(browser, visit)


APPLICANT = {
    "given_name": "Uma",
    "family_name": "Applicant",
    "email": "uma@ucl.example.ac.uk",
    "institution": "UCL",
    "department": "Finance",
    "job_title": "Officer",
    "grade": 6,
}


def mentee(cohort_id: str, applicant: dict[str, Any]) -> dict[str, Any]:
    return {
        "cohort_id": cohort_id,
        "role": "mentee",
        "consent": True,
        "applicant": applicant,
        "self_identification": {"minority_ethnic_background": "yes", "staff_group": "professional_services"},
        "profile": {"skills": ["budgeting"], "career_goals": ["leadership"]},
    }


def test_a_partner_lead_reads_their_institutions_applicants(
    browser: WebDriver, open_stack: OpenStack, people: dict[str, str], visit: Visit
) -> None:
    applicant = {**APPLICANT, "family_name": "Lead-Visible", "email": "uma.visible@ucl.example.ac.uk"}
    submission = open_stack.api.apply(mentee(open_stack.cohort_id, applicant))
    assert submission.status == 202
    token = open_stack.runtime.confirmation_link(applicant["email"])
    assert open_stack.api.confirm(token).status == 200
    open_stack.runtime.wait_until_drained()
    sign_in(browser, open_stack, people["partner_lead"])
    browser.get(f"{open_stack.runtime.api_url}/console/cohorts/{open_stack.cohort_id}/applications")
    visit.check("partner-applications")
    body = browser.find_element(By.TAG_NAME, "main").text
    assert "Lead-Visible" in body
    assert "Applications from University College London" in body
    assert browser.find_elements(By.CSS_SELECTOR, "main form[method=post]") == []
    narrow(browser, visit)


def test_first_sign_in_two_step_sign_in_and_a_missing_page(
    browser: WebDriver, open_stack: OpenStack, visit: Visit
) -> None:
    """The pages only some sign-ins reach: choosing a password (with its error), setting up and
    using an authenticator app; and the page a wrong address gets."""
    runtime = open_stack.runtime
    invited = "browser-invited@example.ac.uk"
    add_person(
        open_stack,
        invited,
        "Browser Invited",
        StaffRole.COORDINATOR,
        password="Temporary-Pass-2027!",
        permanent=False,
        schemes=("b-mentor-professional",),
    )
    browser.delete_all_cookies()
    browser.get(f"{runtime.api_url}/console/sign-in")
    browser.find_element(By.ID, "email").send_keys(invited)
    browser.find_element(By.ID, "password").send_keys("Temporary-Pass-2027!")
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda b: b.title.startswith("Choose your password"))
    browser.find_element(By.ID, "new_password").send_keys("short")
    click(browser, "Save and sign in")
    assert browser.find_elements(By.ID, "error-summary")
    visit.check("new-password-error", revisit=False)
    browser.find_element(By.ID, "new_password").send_keys(PASSWORD)
    click(browser, "Save and sign in")
    WebDriverWait(browser, 20).until(lambda b: b.title.startswith("Cohorts"))

    browser.get(f"{runtime.api_url}/console/account")
    click(browser, "Set up an authenticator app")
    assert browser.find_element(By.ID, "secret").text
    visit.check("authenticator", revisit=False)
    browser.find_element(By.ID, "code").send_keys("123456")  # moto accepts any six digits
    click(browser, "Turn on two-step sign-in")

    browser.delete_all_cookies()
    browser.get(f"{runtime.api_url}/console/sign-in")
    browser.find_element(By.ID, "email").send_keys(invited)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda b: b.title.startswith("Enter your security code"))
    visit.check("security-code", revisit=False)
    browser.find_element(By.ID, "code").send_keys("123456")
    click(browser, "Continue")
    WebDriverWait(browser, 20).until(lambda b: b.title.startswith("Cohorts"))

    browser.get(f"{runtime.api_url}/console/cohorts/no-such-cohort")
    visit.check("not-found")
    narrow(browser, visit)


def test_the_applicant_form_meets_wcag_22_aa(browser: WebDriver, open_stack: OpenStack, visit: Visit) -> None:
    """The form, the form with its errors, and the pages its emailed link opens."""
    runtime = open_stack.runtime
    browser.get(f"{runtime.api_url}/?cohort={open_stack.cohort_id}")
    visit.check("applicant-form")
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.ID, "error-summary"))
    visit.check("applicant-form-errors", revisit=False)

    applicant = {**APPLICANT, "family_name": "Axe-Checked", "email": "uma.axe@ucl.example.ac.uk"}
    assert open_stack.api.apply(mentee(open_stack.cohort_id, applicant)).status == 202
    token = runtime.confirmation_link(applicant["email"])
    browser.get(f"{runtime.api_url}/applications/confirm?token={token}")
    assert browser.title == "Confirm your application"
    visit.check("applicant-confirm", revisit=False)
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda b: b.title == "Application confirmed")
    visit.check("applicant-confirmed", revisit=False)


# Records each element the keyboard focuses, and whether its focus is visible (GOV.UK's yellow).
# Tab reaches one radio button of a group (the chosen one, else the first); arrows move within it.
WATCH_FOCUS = """
const tabbed = r => {
  const group = [...document.getElementsByName(r.name)].filter(e => e.type === 'radio');
  return r === (group.find(e => e.checked) || group[0]);
};
const all = [...document.querySelectorAll(
  'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex="0"]')]
  .filter(e => e.offsetParent !== null && (e.type !== 'radio' || tabbed(e)));
window.focusSeen = [];
document.addEventListener('focusin', e => {
  const s = getComputedStyle(e.target);
  window.focusSeen.push([all.indexOf(e.target), s.outlineStyle !== 'none' || s.boxShadow !== 'none',
    e.target.tagName + '#' + e.target.id + '.' + e.target.className]);
});
return all.length;"""


def narrow(browser: WebDriver, visit: Visit) -> None:
    """Every page of the round at 320px (see keyboard_at_320)."""
    browser.set_window_size(320, 900)
    try:
        for name, url in visit.pages:
            if name == "sign-in":
                continue
            browser.get(url)
            keyboard_at_320(browser, name)
    finally:
        browser.set_window_size(1024, 1400)


def keyboard_at_320(browser: WebDriver, name: str) -> None:
    """The page as it stands, 320px wide: nothing wider than the screen, and every link, button and
    field reached with the Tab key, in order from the top, with focus visible."""
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than 320px"
    # Tabbing starts from the top of the page, wherever focus was left.
    browser.execute_script(
        "const root = document.documentElement;"
        "root.tabIndex = -1; root.focus(); root.removeAttribute('tabindex');"
    )
    focusable = browser.execute_script(WATCH_FOCUS)
    # A date or a date and time field takes several presses (one for each of its parts).
    ActionChains(browser).send_keys(Keys.TAB * (focusable + 16)).perform()
    seen = browser.execute_script("return window.focusSeen")
    order: list[int] = []
    for index, _, _ in seen:
        if order and index <= order[-1]:
            break  # past the last element, focus went round again
        order.append(index)
    assert order == list(range(focusable)), f"{name}: the Tab order is {seen}"
    # Once round, focus re-enters the page from the browser's own controls: not the page's doing.
    hidden = [what for _, shown, what in seen[: len(order)] if not shown]
    assert not hidden, f"{name}: focus is not visible on {hidden}"
    browser.save_screenshot(str(SCREENSHOTS / f"console-320px-{name}.png"))
