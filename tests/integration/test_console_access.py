"""Who may see and do what in the console: sessions, roles and their scope, checked on the server
for every page, against tokens from the (moto) user pool, as an attacker would try them."""

from __future__ import annotations

import base64
import hmac
import html
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from joserfc import jwt
from joserfc.jwk import RSAKey
from mentoring.models import StaffRole

from infrastructure.local.__main__ import console_lines, seed_console
from tests.integration.console import PASSWORD, Browser, new_staff, signed_in, tokens
from tests.integration.helpers import (
    Stack,
    api_event,
    applicant_submission,
    apply_and_confirm,
    confirmation_tokens,
    intake_message,
    queued_bodies,
    sqs_event,
)

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[1] / "examples" / "womens-mentoring-pilot.yaml"
SESSION = "__Host-mentoring-session"


@pytest.fixture(scope="module")
def cohorts(stack: Stack) -> dict[str, str]:
    """An open B-MEntor cohort with UCL and KCL applicants, and a women's pilot cohort with
    provisional matches."""
    bmentor = stack.open_cohort()
    people = [
        applicant_submission(bmentor, institution="UCL"),
        applicant_submission(bmentor, institution="KCL"),
        applicant_submission(bmentor, role="mentor", institution="QMUL", grade=9),
    ]
    stack.call("IntakeFunction", sqs_event([intake_message(p) for p in people]))
    pilot = stack.open_cohort(scheme_id="womens-mentoring-pilot")
    examples = yaml.safe_load(EXAMPLES.read_text())["applications"]
    submissions = [
        {"cohort_id": pilot, "consent": True, **{k: v for k, v in e.items() if k != "expect"}}
        for e in examples
    ]
    stack.call("IntakeFunction", sqs_event([intake_message(s) for s in submissions]))
    assert stack.deliver_deadline(pilot)["ran"] is True
    stack.purge("NotifyQueue")
    return {"bmentor": bmentor, "pilot": pilot}


def pages_of(cohort_id: str) -> list[str]:
    return [
        f"/console/cohorts/{cohort_id}",
        f"/console/cohorts/{cohort_id}/applications",
        f"/console/cohorts/{cohort_id}/matches",
        f"/console/cohorts/{cohort_id}/matches.csv",
        f"/console/cohorts/{cohort_id}/report",
    ]


# ---------------------------------------------------------------- sessions


def test_without_a_session_every_page_sends_the_browser_to_sign_in(
    stack: Stack, cohorts: dict[str, str]
) -> None:
    browser = Browser(stack)
    for path in ["/console", *pages_of(cohorts["pilot"])]:
        reply = browser.get(path)
        assert reply.status == 303, path
        assert reply.location.startswith("/dev/console/sign-in?next=%2Fconsole"), (path, reply.location)


def test_signing_in_sets_cookies_page_scripts_cannot_read(stack: Stack) -> None:
    member = new_staff(stack, StaffRole.ADMINISTRATOR)
    browser = Browser(stack)
    browser.get("/console/sign-in")

    reply = browser.post(
        "/console/sign-in", {"email": member.email, "password": PASSWORD, "next": "/console"}
    )

    assert reply.status == 303
    assert reply.location == "/dev/console"
    for name in ("__Host-mentoring-session", "__Host-mentoring-refresh"):
        line = reply.cookie(name)
        assert line is not None, name
        assert {"HttpOnly", "Secure", "Path=/", "SameSite=Lax"} <= {part.strip() for part in line.split(";")}
        assert "Domain=" not in line
    assert browser.get("/console").status == 200


def test_make_run_prints_the_console_and_a_sign_in_for_each_role_that_works(stack: Stack) -> None:
    accounts = seed_console(
        stack.client("cognito-idp"),
        stack.client("dynamodb"),
        stack.physical("ConsoleUserPool"),
        stack.physical("ApplicationsTable"),
    )
    printed = "\n".join(console_lines("http://localhost:3000/console", accounts))
    sign_ins = re.findall(r"^ {4}(\S.*?)\s+(\S+@\S+)\s+password (\S+)$", printed, re.M)

    assert printed.startswith("  console           http://localhost:3000/console ")
    assert [role for role, _, _ in sign_ins] == ["coordinator", "administrator", "UCL partner lead"]
    for _, email, password in sign_ins:
        browser = Browser(stack)
        browser.get("/console/sign-in")
        reply = browser.post("/console/sign-in", {"email": email, "password": password, "next": "/console"})
        assert (reply.status, reply.location) == (303, "/dev/console"), reply.body[:300]
        assert browser.get("/console").status == 200


def test_a_wrong_password_is_refused_without_saying_whether_the_account_exists(stack: Stack) -> None:
    member = new_staff(stack, StaffRole.COORDINATOR, schemes=("b-mentor-professional",))
    answers = []
    for email in (member.email, "nobody-at-all@example.ac.uk"):
        browser = Browser(stack)
        browser.get("/console/sign-in")
        reply = browser.post("/console/sign-in", {"email": email, "password": "Wrong-password-1!"})
        assert reply.status == 400
        assert SESSION not in browser.jar
        answers.append(re.search(r'<p class="error-message"[^>]*>(.*?)</p>', reply.body, re.S).group(1))
    assert answers[0] == answers[1]


def forged(claims: dict[str, object], key: RSAKey | None = None, alg: str = "RS256") -> str:
    key = key or RSAKey.generate_key(2048, parameters={"kid": "dummy"})
    return jwt.encode({"alg": alg, "kid": "dummy"}, claims, key)


def moto_signing_key() -> RSAKey:
    """The moto server's own signing key (a test key shipped in moto), to make tokens that differ
    from a real one in one claim only."""
    import gzip
    from importlib import resources

    raw = resources.files("moto.cognitoidp").joinpath("resources/jwks-private.json.gz").read_bytes()
    return RSAKey.import_key(json.loads(gzip.decompress(raw)))


def claims_of(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, moto_signing_key()).claims)


def with_session(stack: Stack, token: str) -> Browser:
    browser = Browser(stack)
    browser.jar[SESSION] = token
    return browser


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"exp": int(time.time()) - 1}, id="expired"),
        pytest.param({"token_use": "id"}, id="an-id-token"),
        pytest.param({"client_id": "another-app-client"}, id="another-client"),
        pytest.param(
            {"iss": "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_Other"}, id="another-pool"
        ),
    ],
)
def test_a_signed_token_with_one_wrong_claim_is_refused(stack: Stack, change: dict[str, object]) -> None:
    member = new_staff(stack, StaffRole.ADMINISTRATOR)
    claims = {**claims_of(tokens(stack, member)["AccessToken"]), **change}
    token = jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, moto_signing_key())

    reply = with_session(stack, token).get("/console")

    assert reply.status == 303
    assert "/console/sign-in" in reply.location


def unsigned(header: dict[str, object], claims: dict[str, object], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps(header).encode()) + "." + part(json.dumps(claims).encode())
    return head + "." + part(signature)


def test_a_forged_token_is_refused(stack: Stack) -> None:
    member = new_staff(stack, StaffRole.ADMINISTRATOR)
    real = tokens(stack, member)["AccessToken"]
    claims = claims_of(real)
    public = json.dumps(moto_signing_key().as_dict(private=False)).encode()
    head = unsigned({"alg": "HS256", "kid": "dummy"}, claims).rsplit(".", 1)[0]

    for token in (
        forged(claims),  # the right claims, signed with another key under the pool's key id
        unsigned({"alg": "none", "kid": "dummy"}, claims),  # no signature at all
        unsigned({"alg": "RS256", "kid": "dummy"}, {**claims, "sub": "someone-else"}, b"x" * 256),
        head
        + "."
        + base64.urlsafe_b64encode(hmac.new(public, head.encode(), "sha256").digest()).rstrip(b"=").decode(),
        real.rsplit(".", 1)[0] + ".",  # a real token with its signature removed
    ):
        assert with_session(stack, token).get("/console").status == 303
    assert with_session(stack, real).get("/console").status == 200


def test_a_token_of_another_user_pool_is_refused(stack: Stack) -> None:
    """A real token, signed by the same service, but issued by another pool (moto signs every pool
    with one key: only the issuer and client checks tell them apart, as they must in AWS too)."""
    idp = stack.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="another-pool")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="x", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )
    client_id = client["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="intruder@example.ac.uk", TemporaryPassword=PASSWORD)
    idp.admin_set_user_password(
        UserPoolId=pool, Username="intruder@example.ac.uk", Password=PASSWORD, Permanent=True
    )
    token = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "intruder@example.ac.uk", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]

    assert with_session(stack, token).get("/console").status == 303


def test_an_expired_session_is_renewed_with_the_refresh_token(stack: Stack) -> None:
    member = new_staff(stack, StaffRole.ADMINISTRATOR)
    browser = signed_in(stack, member)
    claims = {**claims_of(browser.jar[SESSION]), "exp": int(time.time()) - 60}
    browser.jar[SESSION] = jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, moto_signing_key())

    reply = browser.get("/console")

    assert reply.status == 200
    renewed = reply.cookie(SESSION)
    assert renewed is not None
    assert "HttpOnly" in renewed


def test_signing_out_ends_the_session_and_revokes_the_refresh_token(stack: Stack) -> None:
    member = new_staff(stack, StaffRole.ADMINISTRATOR)
    browser = signed_in(stack, member)
    refresh = browser.jar["__Host-mentoring-refresh"]
    browser.get("/console")

    reply = browser.post("/console/sign-out", {})

    assert reply.status == 303
    assert SESSION not in browser.jar
    stale = Browser(stack, jar={"__Host-mentoring-refresh": refresh})
    assert stale.get("/console").status == 303  # the refresh token no longer renews anything


def test_an_account_without_a_staff_record_has_no_access(stack: Stack) -> None:
    member = new_staff(stack, StaffRole.COORDINATOR, schemes=("b-mentor-professional",))
    browser = signed_in(stack, member)
    stack.client("dynamodb").delete_item(
        TableName=stack.physical("ApplicationsTable"),
        Key={"pk": {"S": "STAFF"}, "sk": {"S": f"USER#{member.user_id}"}},
    )

    assert browser.get("/console").status == 403


# ---------------------------------------------------------------- roles and scope


def test_a_coordinator_of_one_scheme_is_refused_on_another_schemes_cohort(
    stack: Stack, cohorts: dict[str, str]
) -> None:
    member = new_staff(stack, StaffRole.COORDINATOR, schemes=("b-mentor-professional",))
    browser = signed_in(stack, member)

    home = browser.get("/console")
    assert cohorts["bmentor"] in home.body
    assert cohorts["pilot"] not in home.body
    for path in pages_of(cohorts["pilot"]):
        assert browser.get(path).status == 403, path
    application = stack.applications(cohorts["pilot"])[0]["application_id"]
    assert browser.get(f"/console/cohorts/{cohorts['pilot']}/applications/{application}").status == 403


def actions_on(stack: Stack, cohort_id: str) -> dict[str, dict[str, str]]:
    """Every action of the console on one cohort, as its own forms post it."""
    apps = stack.applications(cohort_id)
    mentee = next(a["application_id"] for a in apps if a["role"] == "mentee")
    mentor = next(a["application_id"] for a in apps if a["role"] == "mentor")
    pair = {"mentee_id": mentee, "mentor_id": mentor}
    base = f"/console/cohorts/{cohort_id}"
    return {
        f"{base}/publish": {},
        f"{base}/matches/check": pair,
        f"{base}/matches/change": pair,
        f"{base}/deadline": {"recruitment_deadline": "2030-01-31T17:00"},
        f"{base}/close": {},
        f"{base}/applications/{mentee}/withdraw": {"reason": "not_genuine"},
        f"{base}/applications/{mentee}/admit": {},
        f"{base}/rerun": {},
    }


@pytest.mark.parametrize("role", [StaffRole.COORDINATOR, StaffRole.PARTNER_LEAD])
def test_every_action_on_a_cohort_outside_ones_scope_is_refused_and_changes_nothing(
    stack: Stack, cohorts: dict[str, str], role: StaffRole
) -> None:
    """A coordinator of another scheme, and a partner lead (read only, even where their own staff
    applied), each post every action form of a cohort they may not change."""
    member = (
        new_staff(stack, role, schemes=("b-mentor-professional",))
        if role is StaffRole.COORDINATOR
        else new_staff(stack, role, institution="UCL")  # the pilot's own: it sees the cohort
    )
    browser = signed_in(stack, member)
    browser.get("/console")
    before = {c: stack.applications(c) for c in cohorts.values()}

    for path, form in actions_on(stack, cohorts["pilot"]).items():
        assert browser.post(path, form).status == 403, path
        assert browser.get(path).status in {403, 404, 405}, path

    assert {c: stack.applications(c) for c in cohorts.values()} == before
    status = stack.call(
        "AdminFunction",
        api_event("GET", f"/cohorts/{cohorts['pilot']}", None, resource="/cohorts/{cohortId}"),
    )
    assert json.loads(status["body"])["cohort"]["status"] == "provisional"


def test_the_coordinator_of_the_scheme_sees_its_pages(stack: Stack, cohorts: dict[str, str]) -> None:
    member = new_staff(stack, StaffRole.COORDINATOR, schemes=("womens-mentoring-pilot",))
    browser = signed_in(stack, member)

    for path in pages_of(cohorts["pilot"]):
        reply = browser.get(path)
        assert reply.status == 200, (path, reply.body[:300])


def test_a_partner_lead_sees_only_their_institutions_applicants_and_no_action(
    stack: Stack, cohorts: dict[str, str]
) -> None:
    member = new_staff(stack, StaffRole.PARTNER_LEAD, institution="KCL")
    browser = signed_in(stack, member)
    people = {a["applicant"]["family_name"]: a for a in stack.applications(cohorts["bmentor"])}
    kcl = [a for a in people.values() if a["applicant"]["institution"] == "KCL"]
    others = [a for a in people.values() if a["applicant"]["institution"] != "KCL"]

    listing = browser.get(f"/console/cohorts/{cohorts['bmentor']}/applications")

    assert listing.status == 200
    assert all(a["applicant"]["family_name"] in listing.body for a in kcl)
    assert not any(a["applicant"]["family_name"] in listing.body for a in others)
    for a in others:
        assert (
            browser.get(f"/console/cohorts/{cohorts['bmentor']}/applications/{a['application_id']}").status
            == 403
        )
    own = f"/console/cohorts/{cohorts['bmentor']}/applications/{kcl[0]['application_id']}/withdraw"
    assert browser.get(own).status == 403  # read-only, even for their own staff
    assert browser.post(own, {"reason": "not_genuine"}).status == 403
    for page in (listing, browser.get(f"/console/cohorts/{cohorts['bmentor']}")):
        assert page.status == 200
        forms = re.findall(r'<form method="post" action="([^"]+)"', page.body)
        assert forms == ["/dev/console/sign-out"]
        assert 'role="button"' not in page.body  # the links that start an action
        assert not re.search(
            r'href="[^"]*/(admit|withdraw|publish|deadline|close|rerun|matches|report)', page.body
        )
    for path in pages_of(cohorts["bmentor"])[2:]:
        assert browser.get(path).status == 403, path


def funnel_step(page: str, step: str) -> tuple[int, int]:
    """The mentees and mentors the cohort page counts at one step of its funnel."""
    row = re.search(
        rf'<th scope="row">{re.escape(step)}</th>'
        r'<td class="numeric">(\d+)</td><td class="numeric">(\d+)</td>',
        html.unescape(page),
    )
    assert row is not None, step
    return int(row.group(1)), int(row.group(2))


def test_held_applications_are_counted_once_each_by_role_and_institution_and_never_named(
    stack: Stack,
) -> None:
    """The funnel counts web-form applications awaiting confirmation (and those that lapsed) from
    the marks written with each hold and confirmation, and shows nothing of whose they are."""
    cohort = stack.open_cohort()
    twice = applicant_submission(cohort, institution="UCL")
    mentor = applicant_submission(cohort, role="mentor", institution="QMUL", grade=8)
    lapsing = applicant_submission(cohort, institution="UCL")
    for body in (twice, twice, mentor, lapsing):  # the first one sent twice: two links
        sent = stack.call("SubmitFunction", api_event("POST", "/applications", body))
        assert sent["statusCode"] == 202, sent["body"]
    assert len(confirmation_tokens(stack)) == 4
    apply_and_confirm(stack, applicant_submission(cohort, institution="UCL"))
    stack.call("IntakeFunction", sqs_event(queued_bodies(stack, "IntakeQueue")))
    # Given: the link of one lapsed (its mark as the table holds it three days on).
    db, table = stack.client("dynamodb"), stack.physical("ApplicationsTable")
    marks = db.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :held)",
        ExpressionAttributeValues={":pk": {"S": f"COHORT#{cohort}"}, ":held": {"S": "HELD#"}},
    )["Items"]
    assert len(marks) == 4  # the one sent twice is one submission
    lapsed_id = next(
        json.loads(m["data"]["S"])["submission_id"]
        for m in db.scan(TableName=table)["Items"]
        if m["pk"]["S"].startswith("HELD#")
        and json.loads(m["data"]["S"])["message"]
        and json.loads(m["data"]["S"])["message"]["submission"]["applicant"]["email"]
        == lapsing["applicant"]["email"]
    )
    db.update_item(
        TableName=table,
        Key={"pk": {"S": f"COHORT#{cohort}"}, "sk": {"S": f"HELD#{lapsed_id}"}},
        UpdateExpression="SET confirm_by = :past",
        ExpressionAttributeValues={":past": {"S": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}},
    )
    scheme = ("b-mentor-professional",)
    coordinator = signed_in(stack, new_staff(stack, StaffRole.COORDINATOR, schemes=scheme))
    ucl_lead = signed_in(stack, new_staff(stack, StaffRole.PARTNER_LEAD, institution="UCL"))

    page = coordinator.get(f"/console/cohorts/{cohort}").body
    own = ucl_lead.get(f"/console/cohorts/{cohort}").body

    assert funnel_step(page, "Awaiting the applicant's confirmation") == (1, 1)
    assert funnel_step(page, "Not confirmed in time") == (1, 0)
    assert funnel_step(page, "Applied") == (1, 0)
    assert funnel_step(own, "Awaiting the applicant's confirmation") == (1, 0)  # not QMUL's mentor
    for body in (twice, mentor, lapsing):
        for detail in ("family_name", "email", "department"):
            assert body["applicant"][detail] not in page


def test_only_an_administrator_sees_every_schemes_cohorts(stack: Stack, cohorts: dict[str, str]) -> None:
    browser = signed_in(stack, new_staff(stack, StaffRole.ADMINISTRATOR))

    home = browser.get("/console")

    assert cohorts["bmentor"] in home.body
    assert cohorts["pilot"] in home.body


# ---------------------------------------------------------------- forms from other sites


def test_a_cross_site_form_post_is_refused(stack: Stack) -> None:
    member = new_staff(stack, StaffRole.ADMINISTRATOR)
    browser = signed_in(stack, member)
    browser.get("/console")

    without_token = browser.post("/console/sign-out", {"csrf_token": ""})
    wrong_token = browser.post("/console/sign-out", {"csrf_token": "guessed"})
    browser.origin = "https://evil.example"
    other_origin = browser.post("/console/sign-out", {})

    assert [without_token.status, wrong_token.status, other_origin.status] == [403, 403, 403]
    browser.origin = f"https://{'abc123.execute-api.eu-west-2.amazonaws.com'}"
    assert browser.get("/console").status == 200  # still signed in: nothing was done
