"""The console's roles and their scope, and the session token's checks, without any AWS."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from mentoring.console.access import (
    ForbiddenError,
    applications_for,
    can_act_on,
    require_action,
    require_administrator,
    require_cohort,
    visible_schemes,
)
from mentoring.console.http import safe_next
from mentoring.console.session import KeySetCache, NotSignedInError, TokenVerifier, base_path, check_same_site
from mentoring.models import Cohort, StaffMember, StaffRole

from tests.unit.factories import application

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def member(role: StaffRole, schemes: tuple[str, ...] = (), institution: str | None = None) -> StaffMember:
    return StaffMember(
        user_id="u", email="u@example.ac.uk", name="U", role=role, schemes=list(schemes),
        institution=institution, invited_at=NOW,
    )  # fmt: skip


def cohort(scheme_id: str) -> Cohort:
    return Cohort(
        cohort_id="c-1", scheme_id=scheme_id, name="C", recruitment_deadline=NOW,
        coordinator_email="c@example.ac.uk", created_at=NOW,
    )  # fmt: skip


def test_a_coordinator_acts_on_their_own_schemes_only() -> None:
    coordinator = member(StaffRole.COORDINATOR, ("b-mentor-professional",))

    assert visible_schemes(coordinator) == {"b-mentor-professional"}
    require_action(coordinator, cohort("b-mentor-professional"))
    with pytest.raises(ForbiddenError):
        require_cohort(coordinator, cohort("womens-mentoring-pilot"))
    with pytest.raises(ForbiddenError):
        require_administrator(coordinator)


def test_a_partner_lead_reads_only_schemes_of_their_institution_and_acts_on_none() -> None:
    lead = member(StaffRole.PARTNER_LEAD, institution="KCL")

    assert "b-mentor-professional" in visible_schemes(lead)
    assert "womens-mentoring-pilot" not in visible_schemes(lead)  # a UCL-only scheme
    assert not can_act_on(lead, "b-mentor-professional")
    with pytest.raises(ForbiddenError):
        require_action(lead, cohort("b-mentor-professional"))


def test_a_partner_lead_sees_their_own_institutions_applicants_only() -> None:
    lead = member(StaffRole.PARTNER_LEAD, institution="KCL")
    ours = application(institution="KCL")
    theirs = application(institution="UCL")

    assert applications_for(lead, [ours, theirs]) == [ours]


def test_an_administrator_sees_and_acts_everywhere() -> None:
    admin = member(StaffRole.ADMINISTRATOR)

    assert can_act_on(admin, "womens-mentoring-pilot")
    require_administrator(admin)


@pytest.mark.parametrize("value", ["https://evil.example/", "//evil.example", "/\\evil.example", "/other"])
def test_after_sign_in_the_browser_goes_to_a_console_page_only(value: str) -> None:
    assert safe_next(value) == "/console"


def test_a_form_from_another_site_is_refused() -> None:
    check_same_site({"Origin": "https://console.example", "Host": "console.example"})
    check_same_site({"Host": "console.example", "Sec-Fetch-Site": "same-origin"})
    for headers in (
        {"Origin": "https://evil.example", "Host": "console.example"},
        {"Origin": "null", "Host": "console.example"},
        {"Host": "console.example", "Sec-Fetch-Site": "cross-site"},
    ):
        with pytest.raises(Exception, match="another site"):
            check_same_site(headers)


def test_links_keep_the_stage_of_api_gateways_own_address() -> None:
    event = {"path": "/console/x", "requestContext": {"path": "/dev/console/x"}}

    assert base_path(event) == "/dev"
    assert base_path({"path": "/console", "requestContext": {"path": "/console"}}) == ""


# ---------------------------------------------------------------- the token's checks

KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
ISSUER = "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_Pool"


def verifier() -> TokenVerifier:
    keys = KeySet([KEY])
    return TokenVerifier(ISSUER, "client", KeySetCache(lambda: keys.as_dict(private=False)))


def token(key: RSAKey = KEY, **change: object) -> str:
    claims = {
        "iss": ISSUER,
        "client_id": "client",
        "token_use": "access",
        "sub": "s-1",
        "exp": int(time.time()) + 60,
    }
    return jwt.encode({"alg": "RS256", "kid": key.kid}, {**claims, **change}, key)


def test_a_token_of_the_pool_for_the_console_is_accepted() -> None:
    assert verifier().verify(token()).user_id == "s-1"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: token(exp=int(time.time()) - 1), id="expired"),
        pytest.param(lambda: token(iss=ISSUER + "x"), id="other-issuer"),
        pytest.param(lambda: token(client_id="other"), id="other-client"),
        pytest.param(lambda: token(token_use="id"), id="id-token"),
        pytest.param(lambda: token(sub=None), id="no-subject"),
        pytest.param(lambda: token(RSAKey.generate_key(2048, parameters={"kid": "k1"})), id="other-key"),
        pytest.param(lambda: token().rsplit(".", 1)[0] + ".", id="no-signature"),
        pytest.param(lambda: "not a token", id="garbage"),
    ],
)
def test_anything_else_is_not_a_session(bad: object) -> None:
    with pytest.raises(NotSignedInError):
        verifier().verify(bad())  # type: ignore[operator]
