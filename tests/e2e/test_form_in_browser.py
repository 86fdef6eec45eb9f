"""The applicant form as applicants use it: Debian's Chromium, headless, driven by Selenium.

Screenshots of each step are kept in build/screenshots/ as test artefacts.
"""

from __future__ import annotations

import re
import time
from email import message_from_bytes, policy

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e.conftest import PAGE_WAIT, SCREENSHOTS, OpenStack

pytestmark = pytest.mark.e2e


def fill(browser: WebDriver, field: str, value: str) -> None:
    element = browser.find_element(By.ID, field)
    element.clear()
    element.send_keys(value)


def open_form(browser: WebDriver, stack: OpenStack) -> None:
    browser.get(f"{stack.runtime.api_url}/?cohort={stack.cohort_id}")
    assert "Apply to Browser and contract cohort" in browser.title


def emailed_link(stack: OpenStack, address: str, timeout: float = 300) -> str:
    """The confirmation link in the email sent to ``address``, read from the local outbox as the
    applicant's mail program would show it (waiting for notify, however busy the machine)."""
    outbox = stack.runtime.outbox
    assert outbox is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.runtime.sync_outbox()
        for path in sorted(outbox.glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            plain = message.get_body(preferencelist=("plain",))
            if str(message["To"]) == address and plain is not None:
                found = re.search(
                    r"https?://\S+/applications/confirm\?token=[A-Za-z0-9_-]+", str(plain.get_content())
                )
                if found:
                    return found.group(0)
        time.sleep(1)
    raise AssertionError(f"no confirmation email reached {address}")


def fill_eligible_mentee(browser: WebDriver, email: str) -> None:
    browser.find_element(By.CSS_SELECTOR, "label[for=role-mentee]").click()
    fill(browser, "applicant.given_name", "Amara")
    fill(browser, "applicant.family_name", "Okafor")
    fill(browser, "applicant.email", email)
    Select(browser.find_element(By.ID, "applicant.institution")).select_by_value("UCL")
    fill(browser, "applicant.department", "Finance")
    fill(browser, "applicant.job_title", "Finance Officer")
    fill(browser, "applicant.grade", "6")
    Select(browser.find_element(By.ID, "self_identification.minority_ethnic_background")).select_by_value(
        "yes"
    )
    Select(browser.find_element(By.ID, "self_identification.staff_group")).select_by_value(
        "professional_services"
    )
    fill(browser, "profile.skills", "budgeting, negotiation")
    fill(browser, "profile.career_goals", "leadership")
    Select(browser.find_element(By.ID, "monitoring.ethnicity")).select_by_value("black_african")
    browser.find_element(By.CSS_SELECTOR, "label[for=consent]").click()


def test_an_applicant_applies_and_confirms_from_the_emailed_link(
    browser: WebDriver, open_stack: OpenStack
) -> None:
    open_form(browser, open_stack)
    fill_eligible_mentee(browser, "amara.browser@ucl.example.ac.uk")
    browser.save_screenshot(str(SCREENSHOTS / "form-filled.png"))

    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    WebDriverWait(browser, PAGE_WAIT).until(lambda b: b.title == "Check your email")
    status = browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert re.search(r"reference is [0-9a-f-]{36}", status)
    assert "not counted" in status
    browser.save_screenshot(str(SCREENSHOTS / "form-held.png"))

    # The applicant opens the link in the email they were sent, and confirms on the page it opens.
    browser.get(emailed_link(open_stack, "amara.browser@ucl.example.ac.uk"))
    assert browser.title == "Confirm your application"
    browser.save_screenshot(str(SCREENSHOTS / "confirm-page.png"))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    WebDriverWait(browser, PAGE_WAIT).until(lambda b: b.title == "Application confirmed")
    assert "is confirmed" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    browser.save_screenshot(str(SCREENSHOTS / "confirmed.png"))


def test_the_form_posts_inside_the_stage_from_an_address_without_a_trailing_slash(
    browser: WebDriver, open_stack: OpenStack
) -> None:
    """API Gateway's own address is ``.../{stage}``: a relative action would post outside it."""
    stage = open_stack.runtime.stage
    browser.get(f"{open_stack.runtime.api_url}/{stage}?cohort={open_stack.cohort_id}")
    fill_eligible_mentee(browser, "amara.stage@ucl.example.ac.uk")

    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    WebDriverWait(browser, PAGE_WAIT).until(lambda b: b.title == "Check your email")
    assert browser.current_url == f"{open_stack.runtime.api_url}/{stage}/applications"


def test_errors_are_summarised_and_shown_beside_their_fields(
    browser: WebDriver, open_stack: OpenStack
) -> None:
    open_form(browser, open_stack)
    browser.find_element(By.CSS_SELECTOR, "label[for=role-mentee]").click()
    fill(browser, "applicant.given_name", "Kwame")
    fill(browser, "applicant.email", "not-an-email")

    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    summary = WebDriverWait(browser, PAGE_WAIT).until(lambda b: b.find_element(By.ID, "error-summary"))
    assert summary.get_attribute("role") == "alert"
    targets = [a.get_attribute("href").split("#", 1)[1] for a in summary.find_elements(By.TAG_NAME, "a")]
    assert {"applicant.email", "applicant.department", "consent"} <= set(targets)
    for target in targets:
        browser.find_element(By.ID, target)  # every link leads to its field
    email_error = browser.find_element(By.ID, "applicant.email-error")
    assert "email" in email_error.text
    assert "applicant.email-error" in (
        browser.find_element(By.ID, "applicant.email").get_attribute("aria-describedby") or ""
    )
    # What was typed is kept, so the applicant fixes only what is wrong.
    assert browser.find_element(By.ID, "applicant.given_name").get_attribute("value") == "Kwame"
    browser.save_screenshot(str(SCREENSHOTS / "form-errors.png"))


def test_the_form_fits_a_320px_screen_and_works_from_the_keyboard(
    browser: WebDriver, open_stack: OpenStack
) -> None:
    browser.set_window_size(320, 900)
    try:
        open_form(browser, open_stack)
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        assert browser.find_elements(By.TAG_NAME, "script") == []  # nothing needs JavaScript

        body = browser.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.TAB)
        reached = []
        for _ in range(12):
            active = browser.switch_to.active_element
            reached.append(active.get_attribute("id") or active.get_attribute("name"))
            active.send_keys(Keys.TAB)
        assert "role-mentee" in reached
        assert "applicant.given_name" in reached
        browser.save_screenshot(str(SCREENSHOTS / "form-320px.png"))
    finally:
        browser.set_window_size(1024, 1400)
