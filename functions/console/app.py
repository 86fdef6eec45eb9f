"""Console: the EDI team's web pages. Every page checks the session and the person's role on the
server; every action goes through the same domain functions as the JSON API and is audited."""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from importlib import resources
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.cognito import CognitoIdentity, fetch_jwks, issuer, jwks_url
from mentoring.adapters.dynamodb import (
    DynamoApplications,
    DynamoAuditLog,
    DynamoHeldSubmissions,
    DynamoProgramme,
    DynamoStaff,
)
from mentoring.adapters.messaging import EventBridgeAnnouncer, EventBridgeDeadlines, SesMailer, SqsQueue
from mentoring.cohorts import (
    CohortRequestError,
    CohortStateError,
    admit_from_waiting_list,
    close_recruitment,
    create_cohort,
    move_deadline,
)
from mentoring.console import actions, views
from mentoring.console.access import (
    ForbiddenError,
    can_act_on,
    require_action,
    require_administrator,
    require_cohort,
)
from mentoring.console.http import (
    Gate,
    Unauthorised,
    cookie,
    csrf_token,
    expired,
    form,
    form_values,
    page,
    redirect,
    safe_next,
    sign_in_location,
    signed_in_cookies,
    signed_out_cookies,
)
from mentoring.console.pages import london, london_input, render
from mentoring.console.session import (
    SIGN_IN_COOKIE,
    CrossSiteRequestError,
    KeySetCache,
    NotSignedInError,
    TokenVerifier,
    base_path,
    check_csrf,
    cookies,
)
from mentoring.deadline import RerunRefusedError, request_rerun, rerun_refusal
from mentoring.evaluation import invitation_csv, invitation_list
from mentoring.models import (
    AuditEntry,
    Cohort,
    CohortStatus,
    MatchChanges,
    StaffMember,
    WithdrawRequest,
    utcnow,
)
from mentoring.observability import logger, metrics, traced
from mentoring.participation import (
    Candidate,
    RematchError,
    rematch,
    rematch_candidates,
    rematch_notifications,
)
from mentoring.ports import Challenge, CohortExistsError
from mentoring.programme_view import ProgrammeView, cohort_figures, programme_csv, programme_view
from mentoring.review import ReviewError, change_matches, check_changes, cohort_matches, matches_csv, publish
from mentoring.routing import routed
from mentoring.scheme import get_scheme, load_schemes
from mentoring.settings import ConsoleSettings
from mentoring.withdrawal import WithdrawalError, withdraw_application

settings = ConsoleSettings.from_env()
app = APIGatewayRestResolver()


@cache
def store() -> DynamoApplications:
    return DynamoApplications(
        settings.applications_table, retention_days=settings.applicant_data_retention_days
    )


@cache
def held() -> DynamoHeldSubmissions:
    """Read only here: the marks of held web-form applications, for the funnel's counts."""
    return DynamoHeldSubmissions(settings.applications_table)


@cache
def staff_directory() -> DynamoStaff:
    return DynamoStaff(settings.applications_table)


@cache
def audit_log() -> DynamoAuditLog:
    return DynamoAuditLog(settings.applications_table, retention_days=settings.applicant_data_retention_days)


@cache
def identity() -> CognitoIdentity:
    return CognitoIdentity(settings.user_pool_id, settings.user_pool_client_id)


@cache
def deadlines() -> EventBridgeDeadlines:
    return EventBridgeDeadlines(
        group=settings.schedule_group,
        bus_arn=settings.event_bus_arn,
        role_arn=settings.scheduler_role_arn,
        dead_letter_arn=settings.deadline_dead_letter_queue_arn,
    )


@cache
def announcer() -> EventBridgeAnnouncer:
    return EventBridgeAnnouncer(settings.event_bus_arn)


@cache
def notify_queue() -> SqsQueue:
    return SqsQueue(settings.notify_queue_url)


@cache
def mailer() -> SesMailer:
    return SesMailer(settings.sender_email)


gate = Gate(
    verifier=TokenVerifier(
        issuer(settings.user_pool_id),
        settings.user_pool_client_id,
        KeySetCache(lambda: fetch_jwks(jwks_url(settings.user_pool_id))),
    ),
    identity=identity,
    staff=staff_directory,
    session_hours=settings.console_session_hours,
)


# ---------------------------------------------------------------- request helpers


def base() -> str:
    return base_path(app.current_event.raw_event)


def query(name: str) -> str:
    return (app.current_event.query_string_parameters or {}).get(name, "")


def screen(template: str, code: int = HTTPStatus.OK, **context: Any) -> Response[str]:
    """A page, with the anti-forgery token its forms need and any refreshed session cookie."""
    token, set_cookies = csrf_token(app.current_event.raw_event, settings.console_session_hours)
    context.setdefault("errors", {})
    context.setdefault("nav", "")
    context.setdefault("notice", query("done") and actions.NOTICES.get(query("done"), ""))
    html = render(template, base=base(), csrf=token, **context)
    return page(html, code, [*set_cookies, *gate.refreshed])


def signed_in() -> StaffMember:
    member, _ = gate.member(app.current_event.raw_event)
    return member


def posted() -> dict[str, str]:
    """A form post's fields, once it is shown to come from the console's own page."""
    fields = form(app.current_event.raw_event)
    check_csrf(app.current_event.raw_event, fields)
    return fields


def cohort_for(member: StaffMember, cohort_id: str) -> Cohort:
    return require_cohort(member, store().get_cohort(cohort_id))


def acting_on(cohort_id: str) -> tuple[StaffMember, Cohort]:
    """The signed-in person and the cohort, when their role lets them act on it (else 403)."""
    member = signed_in()
    cohort = cohort_for(member, cohort_id)
    require_action(member, cohort)
    return member, cohort


def audit(
    member: StaffMember,
    action: str,
    cohort_id: str | None = None,
    subject: str | None = None,
    detail: str = "",
) -> None:
    audit_log().record(
        AuditEntry(
            at=utcnow(),
            actor_id=member.user_id,
            actor=member.email,
            action=action,
            cohort_id=cohort_id,
            subject=subject,
            detail=detail,
        )
    )
    logger.info("console action", action=action, cohort_id=cohort_id)


@app.exception_handler(NotSignedInError)
def not_signed_in(_: NotSignedInError) -> Response[str]:
    event = app.current_event.raw_event
    if app.current_event.http_method != "GET":
        return screen(
            "problem.html",
            HTTPStatus.UNAUTHORIZED,
            staff=None,
            title="Sign in again",
            message="Your session has ended. Sign in again, then repeat what you were doing.",
        )
    return redirect(sign_in_location(base(), event), signed_out_cookies())


@app.exception_handler(Unauthorised)
def unauthorised(_: Unauthorised) -> Response[str]:
    return screen(
        "problem.html",
        HTTPStatus.FORBIDDEN,
        staff=None,
        title="No access yet",
        message="Your account has no role in the console. Ask your administrator.",
    )


@app.exception_handler(ForbiddenError)
def forbidden(problem: ForbiddenError) -> Response[str]:
    member = staff_directory().get_staff(gate.session(app.current_event.raw_event).user_id)
    return screen(
        "problem.html",
        HTTPStatus.FORBIDDEN,
        staff=member,
        title="You do not have access",
        message=str(problem),
    )


@app.exception_handler(CrossSiteRequestError)
def cross_site(problem: CrossSiteRequestError) -> Response[str]:
    logger.warning("form refused", reason=str(problem))
    metrics.add_metric(name="ConsoleFormsRefused", unit="Count", value=1)
    return screen(
        "problem.html",
        HTTPStatus.FORBIDDEN,
        staff=None,
        title="This form could not be sent",
        message="The form came from another site or has expired. Go back, reload the page and try again.",
    )


@app.not_found
def not_found(_: Exception) -> Response[str]:
    return screen(
        "problem.html",
        HTTPStatus.NOT_FOUND,
        staff=None,
        title="Page not found",
        message="There is no page at this address.",
    )


# ---------------------------------------------------------------- assets and sign-in


@app.get("/console/assets/console.css")
def stylesheet() -> Response[str]:
    css = resources.files("mentoring").joinpath("templates/console/console.css").read_text(encoding="utf-8")
    return Response(
        200,
        "text/css; charset=utf-8",
        css,
        {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@app.get("/console/sign-in")
def sign_in_page() -> Response[str]:
    try:
        gate.member(app.current_event.raw_event)
        return redirect(base() + safe_next(query("next")))
    except (NotSignedInError, Unauthorised):
        pass
    return screen("sign_in.html", staff=None, title="Sign in", next=safe_next(query("next")), email="")


def finish_sign_in(outcome: Any, email: str, next_path: str) -> Response[str]:
    """Tokens go into the session cookies; a further step keeps the sign-in in a short-lived cookie."""
    if isinstance(outcome, Challenge):
        state = actions.sign_in_state(email, outcome, next_path)
        step = "new-password" if outcome.name == "NEW_PASSWORD_REQUIRED" else "code"
        return redirect(f"{base()}/console/sign-in/{step}", [cookie(SIGN_IN_COOKIE, state, 300, strict=True)])
    signed = gate.verifier.verify(outcome.access_token)
    member = staff_directory().get_staff(signed.user_id)
    if member is not None:
        audit(member, "signed in")
    return redirect(
        base() + next_path,
        [*signed_in_cookies(outcome, settings.console_session_hours), expired(SIGN_IN_COOKIE)],
    )


@app.post("/console/sign-in")
def sign_in() -> Response[str]:
    fields = posted()
    email = fields.get("email", "").strip()
    next_path = safe_next(fields.get("next", ""))
    errors = {}
    if not email:
        errors["email"] = "Enter your email address"
    if not fields.get("password"):
        errors["password"] = "Enter your password"  # noqa: S105 - the message, not a password
    if not errors:
        try:
            return finish_sign_in(identity().sign_in(email, fields["password"]), email, next_path)
        except actions.SignInError as problem:
            errors["password"] = str(problem)
    return screen(
        "sign_in.html",
        HTTPStatus.BAD_REQUEST,
        staff=None,
        title="Sign in",
        next=next_path,
        email=email,
        errors=errors,
    )


def challenge_step(template: str, title: str, field: str, answer: str) -> Response[str]:
    event = app.current_event.raw_event
    state = actions.read_sign_in_state(cookies(event).get(SIGN_IN_COOKIE, ""))
    if state is None:
        return redirect(f"{base()}/console/sign-in")
    if app.current_event.http_method == "GET":
        return screen(template, staff=None, title=title)
    fields = posted()
    value = fields.get(field, "").strip()
    if not value:
        return screen(
            template, HTTPStatus.BAD_REQUEST, staff=None, title=title, errors={field: "Enter it to continue"}
        )
    email, challenge, next_path = state
    try:
        outcome = identity().answer_challenge(challenge, email, {answer: value})
    except actions.SignInError as problem:
        return screen(template, HTTPStatus.BAD_REQUEST, staff=None, title=title, errors={field: str(problem)})
    return finish_sign_in(outcome, email, next_path)


@app.route("/console/sign-in/new-password", method=["GET", "POST"])
def new_password() -> Response[str]:
    return challenge_step("new_password.html", "Choose your password", "new_password", "NEW_PASSWORD")


@app.route("/console/sign-in/code", method=["GET", "POST"])
def security_code() -> Response[str]:
    return challenge_step("mfa.html", "Enter your security code", "code", "SOFTWARE_TOKEN_MFA_CODE")


@app.post("/console/sign-out")
def sign_out() -> Response[str]:
    posted()
    try:
        member, _ = gate.member(app.current_event.raw_event)
    except (NotSignedInError, Unauthorised):
        return redirect(f"{base()}/console/sign-in", signed_out_cookies())
    identity().sign_out(member.email)
    audit(member, "signed out")
    return redirect(f"{base()}/console/sign-in?done=signed-out", signed_out_cookies())


@app.get("/console/account")
def account() -> Response[str]:
    member = signed_in()
    return screen(
        "account.html", staff=member, title="Your account", secret="", scheme_names=views.scheme_names(member)
    )


@app.post("/console/account/authenticator")
def start_authenticator() -> Response[str]:
    member, signed = gate.member(app.current_event.raw_event)
    posted()
    secret = identity().start_authenticator(signed.access_token)
    return screen(
        "account.html",
        staff=member,
        title="Your account",
        secret=secret,
        scheme_names=views.scheme_names(member),
    )


@app.post("/console/account/authenticator/confirm")
def confirm_authenticator() -> Response[str]:
    member, signed = gate.member(app.current_event.raw_event)
    code = posted().get("code", "").strip()
    try:
        identity().confirm_authenticator(signed.access_token, code)
    except actions.SignInError as problem:
        secret = identity().start_authenticator(signed.access_token)
        return screen(
            "account.html",
            HTTPStatus.BAD_REQUEST,
            staff=member,
            title="Your account",
            secret=secret,
            scheme_names=views.scheme_names(member),
            errors={"code": str(problem)},
        )
    audit(member, "turned on two-step sign-in")
    return redirect(f"{base()}/console/account?done=authenticator")


# ---------------------------------------------------------------- cohorts


@app.get("/console")
def cohorts() -> Response[str]:
    member = signed_in()
    status = query("status")
    groups = views.cohorts_by_scheme(member, store().list_cohorts(), status)
    return screen(
        "cohorts.html",
        staff=member,
        nav="cohorts",
        title="Cohorts",
        groups=groups,
        status=status,
        statuses=views.COHORT_STATUSES,
        places={c.cohort_id: views.places(c) for _, cs in groups for c in cs},
        can_open=views.can_open_any(member),
    )


@app.get("/console/cohorts/<cohort_id>")
def dashboard(cohort_id: str) -> Response[str]:
    member = signed_in()
    cohort = cohort_for(member, cohort_id)
    return screen(
        "cohort.html",
        staff=member,
        nav="cohorts",
        title=cohort.name,
        **views.dashboard(member, cohort, store(), held(), utcnow()),
    )


@app.get("/console/cohorts/<cohort_id>/applications")
def applications(cohort_id: str) -> Response[str]:
    member = signed_in()
    cohort = cohort_for(member, cohort_id)
    role, status, institution = query("role"), query("status"), query("institution")
    return screen(
        "applications.html",
        staff=member,
        nav="cohorts",
        title=f"Applications: {cohort.name}",
        role=role,
        status=status,
        institution=institution,
        **views.applications_page(member, cohort, store(), role, status, institution),
    )


@app.get("/console/cohorts/<cohort_id>/applications/<application_id>")
def application(cohort_id: str, application_id: str) -> Response[str]:
    member = signed_in()
    cohort = cohort_for(member, cohort_id)
    context = views.application_page(member, cohort, application_id, store())
    return screen("application.html", staff=member, nav="cohorts", title=context["row"].name, **context)


@app.get("/console/cohorts/<cohort_id>/matches")
def matches(cohort_id: str) -> Response[str]:
    member, cohort = acting_on(cohort_id)
    return screen(
        "matches.html",
        staff=member,
        nav="cohorts",
        title=f"Matches: {cohort.name}",
        **views.matches_page(member, cohort, store()),
    )


@app.get("/console/cohorts/<cohort_id>/matches.csv")
def matches_export(cohort_id: str) -> Response[str]:
    member, cohort = acting_on(cohort_id)
    csv = matches_csv(cohort_matches(cohort.cohort_id, store(), store()), store())
    audit(member, "downloaded the matches (CSV)", cohort_id)
    return csv_download(csv, f"{cohort_id}-matches.csv")


def csv_download(text: str, filename: str) -> Response[str]:
    """A spreadsheet to download: never cached, never read as anything but CSV."""
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(200, "text/csv; charset=utf-8", text, headers, cookies=list(gate.refreshed))


@cache
def programme() -> DynamoProgramme:
    return DynamoProgramme(settings.applications_table, retention_days=settings.applicant_data_retention_days)


def _programme_of(cohort: Cohort) -> ProgrammeView:
    if cohort.status is not CohortStatus.MATCHED:
        raise ForbiddenError("This cohort's programme has not started: its matches are not published yet.")
    return programme_view(cohort, utcnow(), programme(), programme())


@app.get("/console/cohorts/<cohort_id>/programme")
def programme_page(
    cohort_id: str, errors: dict[str, str] | None = None, code: int = HTTPStatus.OK
) -> Response[str]:
    member, cohort = acting_on(cohort_id)
    view = _programme_of(cohort)
    rematchable: dict[str, list[Candidate]] = {}
    stuck: set[str] = set()
    scheme = get_scheme(cohort.scheme_id)
    current = {row.partnership.mentee_id for row in view.pairs if row.partnership.ended is None}
    for row in view.pairs:
        mentee = row.partnership.mentee_id
        if row.partnership.ended is not None and mentee not in current:
            found = rematch_candidates(scheme, cohort_id, mentee, programme(), programme())
            if found:
                rematchable[mentee] = found
            else:
                stuck.add(mentee)
    return screen(
        "programme.html",
        code,
        staff=member,
        nav="cohorts",
        title=f"Programme: {cohort.name}",
        cohort=cohort,
        view=view,
        may_act=True,
        rematchable=rematchable,
        no_candidates=stuck,
        role_labels=views.role_labels(scheme),
        name=views.person,
        errors=errors or {},
    )


@app.get("/console/cohorts/<cohort_id>/programme.csv")
def programme_export(cohort_id: str) -> Response[str]:
    member, cohort = acting_on(cohort_id)
    csv = programme_csv(_programme_of(cohort))
    audit(member, "downloaded the programme's pairs (CSV)", cohort_id)
    return csv_download(csv, f"{cohort_id}-programme.csv")


@app.post("/console/cohorts/<cohort_id>/programme/rematch")
def rematch_mentee(cohort_id: str) -> Response[str]:
    """Pairs a mentee whose partnership ended with a free mentor of the cohort, and emails both."""
    member, cohort = acting_on(cohort_id)
    fields = posted()
    _programme_of(cohort)
    mentee_id, mentor_id = fields.get("mentee_id", ""), fields.get("mentor_id", "")
    try:
        match = rematch(
            get_scheme(cohort.scheme_id), cohort_id, mentee_id, mentor_id, utcnow(), programme(), programme()
        )
    except RematchError as problem:
        field = f"mentor_id-{mentee_id}" if problem.error.field == "mentor_id" else problem.error.field
        return programme_page(cohort_id, {field: problem.error.message}, HTTPStatus.UNPROCESSABLE_ENTITY)
    # Stored first: the emails read the new pair from the store. Sending the same form again
    # finds the pair made and queues its emails again (notify's outbox sends each once).
    notify_queue().send_all(rematch_notifications(match))
    audit(
        member,
        "re-matched a mentee whose partnership ended",
        cohort_id,
        subject=mentee_id,
        detail=f"mentor {mentor_id}",
    )
    metrics.add_metric(name="MenteesRematched", unit="Count", value=1)
    return redirect(f"{base()}/console/cohorts/{cohort_id}/programme?done=rematched")


@app.get("/console/schemes/<scheme_id>/programme")
def scheme_programme(scheme_id: str) -> Response[str]:
    member = signed_in()
    if scheme_id not in load_schemes() or not can_act_on(member, scheme_id):
        raise ForbiddenError("Your role does not cover this scheme.")
    matched = [
        c for c in store().list_cohorts() if c.scheme_id == scheme_id and c.status is CohortStatus.MATCHED
    ]
    rows = sorted(
        (cohort_figures(programme_view(c, utcnow(), programme(), programme())) for c in matched),
        key=lambda r: (r.year, r.cohort.name),
        reverse=True,
    )
    scheme = get_scheme(scheme_id)
    return screen(
        "scheme_programme.html",
        staff=member,
        nav="cohorts",
        title=f"{scheme.name}: programme",
        scheme=scheme,
        rows=rows,
    )


@app.get("/console/cohorts/<cohort_id>/next-year")
def next_year(cohort_id: str) -> Response[str]:
    """Next year's mentors: who said, with the evaluation, they would like to mentor next year."""
    member, cohort = acting_on(cohort_id)
    invitees = invitation_list(cohort.cohort_id, store(), store())
    return screen(
        "next_year.html",
        staff=member,
        nav="cohorts",
        title=f"Next year's mentors: {cohort.name}",
        cohort=cohort,
        invitees=invitees,
        role_labels={role.value: d.label for role, d in get_scheme(cohort.scheme_id).roles.items()},
    )


@app.get("/console/cohorts/<cohort_id>/next-year.csv")
def next_year_export(cohort_id: str) -> Response[str]:
    member, cohort = acting_on(cohort_id)
    csv = invitation_csv(invitation_list(cohort.cohort_id, store(), store()))
    audit(member, "downloaded next year's mentors (CSV)", cohort_id)
    return csv_download(csv, f"{cohort_id}-next-year.csv")


# ---------------------------------------------------------------- actions (each audited)


def refusal(problem: Exception) -> Response[str]:
    """A step the cohort's state does not allow now: said on a page of its own (409)."""
    member = signed_in()
    return screen(
        "problem.html",
        HTTPStatus.CONFLICT,
        staff=member,
        title="This cannot be done now",
        message=str(problem).capitalize() + ".",
    )


def confirmation(member: StaffMember, cohort: Cohort, **context: Any) -> Response[str]:
    context.setdefault("lines", [])
    context.setdefault("points", [])
    context.setdefault("warning", "")
    context.setdefault("hidden", [])
    context.setdefault("fields", [])
    context.setdefault("style", "")
    context.setdefault("back", f"{base()}/console/cohorts/{cohort.cohort_id}")
    code = context.pop("code", HTTPStatus.OK)
    return screen("confirm.html", code, staff=member, nav="cohorts", cohort=cohort, **context)


@app.route("/console/cohorts/new", method=["GET", "POST"])
def open_cohort() -> Response[str]:
    member = signed_in()
    schemes = views.schemes_to_open(member)
    if not schemes:
        raise ForbiddenError("Your role does not allow opening cohorts.")
    if app.current_event.http_method == "GET":
        values = {"coordinator_email": member.email}
        return screen(
            "open_cohort.html",
            staff=member,
            nav="cohorts",
            title="Open a cohort",
            schemes=schemes,
            values=values,
        )
    fields = posted()
    try:
        request = actions.new_cohort_request(fields, {s.id for s in schemes})
        cohort = create_cohort(request, utcnow(), store(), deadlines())
    except actions.FormError as problem:
        return screen(
            "open_cohort.html",
            HTTPStatus.BAD_REQUEST,
            staff=member,
            nav="cohorts",
            title="Open a cohort",
            schemes=schemes,
            values=fields,
            errors=problem.errors,
        )
    except (CohortRequestError, CohortExistsError) as problem:
        field = getattr(problem, "field", "name")
        message = (
            "a cohort with this name already exists"
            if isinstance(problem, CohortExistsError)
            else str(problem)
        )
        errors = {field: message.capitalize()}
        if isinstance(problem, CohortRequestError) and field.startswith("calendar."):
            errors = actions.calendar_errors(problem.errors)
        return screen(
            "open_cohort.html",
            HTTPStatus.BAD_REQUEST,
            staff=member,
            nav="cohorts",
            title="Open a cohort",
            schemes=schemes,
            values=fields,
            errors=errors,
        )
    audit(
        member,
        "opened the cohort",
        cohort.cohort_id,
        detail=f"{cohort.scheme_id}, deadline {london(cohort.recruitment_deadline)}",
    )
    metrics.add_metric(name="CohortsOpened", unit="Count", value=1)
    return redirect(f"{base()}/console/cohorts/{cohort.cohort_id}?done=opened")


@app.route("/console/cohorts/<cohort_id>/deadline", method=["GET", "POST"])
def change_deadline(cohort_id: str) -> Response[str]:
    member, cohort = acting_on(cohort_id)
    field = {
        "name": "recruitment_deadline",
        "label": "New recruitment deadline (London time)",
        "type": "datetime-local",
        "hint": f"Now {london(cohort.recruitment_deadline)}. Matching starts at the new time.",
        "value": london_input(cohort.recruitment_deadline),
    }
    action = f"{base()}/console/cohorts/{cohort_id}/deadline"
    if app.current_event.http_method == "GET":
        return confirmation(
            member,
            cohort,
            title="Change the recruitment deadline",
            action=action,
            fields=[field],
            button="Change the deadline",
        )
    fields = posted()
    try:
        deadline = actions.london_time(fields.get("recruitment_deadline", ""))
        moved = move_deadline(cohort_id, deadline, utcnow(), store(), deadlines())
    except (actions.FormError, CohortRequestError) as problem:
        message = (
            problem.errors["recruitment_deadline"]
            if isinstance(problem, actions.FormError)
            else str(problem).capitalize()
        )
        field["value"] = fields.get("recruitment_deadline", "")
        return confirmation(
            member,
            cohort,
            code=HTTPStatus.BAD_REQUEST,
            title="Change the recruitment deadline",
            action=action,
            fields=[field],
            button="Change the deadline",
            errors={"recruitment_deadline": message},
        )
    except CohortStateError as problem:
        return refusal(problem)
    audit(
        member,
        "moved the recruitment deadline",
        cohort_id,
        detail=f"from {london(cohort.recruitment_deadline)} to {london(moved.recruitment_deadline)}",
    )
    return redirect(f"{base()}/console/cohorts/{cohort_id}?done=deadline")


@app.route("/console/cohorts/<cohort_id>/close", method=["GET", "POST"])
def close_now(cohort_id: str) -> Response[str]:
    member, cohort = acting_on(cohort_id)
    if app.current_event.http_method == "GET":
        return confirmation(
            member,
            cohort,
            title="Close recruitment now",
            lines=[
                f"The deadline is {london(cohort.recruitment_deadline)}. Closing now stops applications "
                "at once, and matching starts within a minute."
            ],
            warning="This cannot be undone: the form will refuse new applications.",
            action=f"{base()}/console/cohorts/{cohort_id}/close",
            button="Close recruitment now",
            style="warning",
        )
    posted()
    try:
        closed = close_recruitment(cohort_id, utcnow(), store(), deadlines())
    except (CohortStateError, CohortRequestError) as problem:
        return refusal(problem)
    audit(
        member,
        "closed recruitment early",
        cohort_id,
        detail=f"deadline {london(closed.recruitment_deadline)}",
    )
    return redirect(f"{base()}/console/cohorts/{cohort_id}?done=closed")


@app.route("/console/cohorts/<cohort_id>/applications/<application_id>/admit", method=["GET", "POST"])
def admit(cohort_id: str, application_id: str) -> Response[str]:
    member, cohort = acting_on(cohort_id)
    page_context = views.application_page(member, cohort, application_id, store())
    name = page_context["row"].name
    back = f"{base()}/console/cohorts/{cohort_id}/applications/{application_id}"
    if app.current_event.http_method == "GET":
        return confirmation(
            member,
            cohort,
            title=f"Give {name} a place",
            back=back,
            lines=[
                f"{name} is on the waiting list. "
                f"{cohort.admitted_mentees} of {views.places(cohort)} places are taken."
            ],
            action=f"{back}/admit",
            button="Give them a place",
        )
    posted()
    try:
        admit_from_waiting_list(cohort_id, application_id, store(), store())
    except CohortStateError as problem:
        return refusal(problem)
    audit(member, "gave a place from the waiting list", cohort_id, subject=application_id)
    return redirect(f"{back}?done=admitted")


# Why a coordinator withdraws an application, in the order the form offers them.
WITHDRAWAL_REASONS = [
    ("applicant_request", "They asked to withdraw: they are emailed to say so"),
    ("not_genuine", "It is not genuine (sent under someone else's name or address): nobody is emailed"),
]


@app.route("/console/cohorts/<cohort_id>/applications/<application_id>/withdraw", method=["GET", "POST"])
def withdraw(cohort_id: str, application_id: str) -> Response[str]:
    member, cohort = acting_on(cohort_id)
    row = views.application_page(member, cohort, application_id, store())["row"]
    name = row.name
    back = f"{base()}/console/cohorts/{cohort_id}/applications/{application_id}"
    if row.status == "withdrawn":  # a second click, or another coordinator was first: nothing to do
        return redirect(f"{back}?done=withdrawn")
    field: dict[str, Any] = {
        "name": "reason",
        "label": "Why is it withdrawn?",
        "type": "radio",
        "hint": "",
        "options": WITHDRAWAL_REASONS,
        "value": "",
    }
    context: dict[str, Any] = {
        "title": f"Withdraw {name}'s application",
        "back": back,
        "lines": [
            f"{name} will not be matched. A place they hold goes to the first mentee on the "
            "waiting list, and they can apply again."
        ],
        "action": f"{back}/withdraw",
        "fields": [field],
        "button": "Withdraw the application",
        "style": "warning",
    }
    if app.current_event.http_method == "GET":
        return confirmation(member, cohort, **context)
    reason = posted().get("reason", "")
    if reason not in dict(WITHDRAWAL_REASONS):
        return confirmation(
            member,
            cohort,
            code=HTTPStatus.BAD_REQUEST,
            errors={"reason": "Choose why the application is withdrawn"},
            **context,
        )
    try:
        result = withdraw_application(
            cohort_id,
            application_id,
            WithdrawRequest.model_validate({"reason": reason}),
            utcnow(),
            store(),
            store(),
            notify_queue(),
        )
    except WithdrawalError as problem:
        return refusal(problem)
    detail = dict(WITHDRAWAL_REASONS)[reason].split(":")[0]
    if result.place_given_to:
        detail += f"; its place went to {result.place_given_to}"
    audit(member, "withdrew an application", cohort_id, subject=application_id, detail=detail)
    return redirect(f"{back}?done=withdrawn")


@app.post("/console/cohorts/<cohort_id>/matches/check")
def check_change(cohort_id: str) -> Response[str]:
    member, cohort = acting_on(cohort_id)
    fields = posted()
    try:
        change = actions.match_change(fields)
    except actions.FormError as problem:
        return screen(
            "matches.html",
            HTTPStatus.BAD_REQUEST,
            staff=member,
            nav="cohorts",
            title=f"Matches: {cohort.name}",
            errors=problem.errors,
            **views.matches_page(member, cohort, store()),
        )
    try:
        problems = check_changes(cohort_id, MatchChanges(changes=[change]), store(), store())
    except ReviewError as problem:
        return refusal(problem)
    back = f"{base()}/console/cohorts/{cohort_id}/matches"
    described = views.describe_change(cohort, change, store())
    if problems:
        return confirmation(
            member,
            cohort,
            code=HTTPStatus.UNPROCESSABLE_ENTITY,
            title="This change breaks the scheme's rules",
            lines=[described, "Nothing was changed."],
            points=[p.message for p in problems],
            back=back,
            action="",
        )
    return confirmation(
        member,
        cohort,
        title="Check the change",
        back=back,
        lines=[
            described,
            "The change meets the scheme's rules and the mentors' capacities. "
            "Nobody is told until you publish.",
        ],
        action=f"{back}/change",
        button="Make the change",
        hidden=[("mentee_id", change.mentee_id), ("mentor_id", change.mentor_id or "none")],
    )


@app.post("/console/cohorts/<cohort_id>/matches/change")
def make_change(cohort_id: str) -> Response[str]:
    member, _ = acting_on(cohort_id)
    fields = posted()
    try:
        change = actions.match_change(fields)
        change_matches(cohort_id, MatchChanges(changes=[change]), store(), store())
    except actions.FormError:
        return redirect(f"{base()}/console/cohorts/{cohort_id}/matches")
    except ReviewError as problem:
        return refusal(problem)
    audit(
        member,
        "changed a provisional pair",
        cohort_id,
        subject=change.mentee_id,
        detail=f"mentor {change.mentor_id}" if change.mentor_id else "left unmatched",
    )
    return redirect(f"{base()}/console/cohorts/{cohort_id}/matches?done=changed")


@app.route("/console/cohorts/<cohort_id>/publish", method=["GET", "POST"])
def publish_matches(cohort_id: str) -> Response[str]:
    member, cohort = acting_on(cohort_id)
    if app.current_event.http_method == "GET":
        result = cohort_matches(cohort_id, store(), store())
        return confirmation(
            member,
            cohort,
            title="Publish the matches",
            lines=[f"{len(result.matches)} pairs and {len(result.unmatched)} mentees without a match."],
            warning="Publishing emails every mentee and mentor their result. It cannot be undone.",
            action=f"{base()}/console/cohorts/{cohort_id}/publish",
            button="Publish and email everyone",
            back=f"{base()}/console/cohorts/{cohort_id}/matches",
        )
    posted()
    try:
        result = publish(cohort_id, utcnow(), store(), store(), notify_queue())
    except ReviewError as problem:
        return refusal(problem)
    audit(member, "published the matches", cohort_id, detail=f"{len(result.matches)} pairs")
    metrics.add_metric(name="MatchesPublished", unit="Count", value=len(result.matches))
    return redirect(f"{base()}/console/cohorts/{cohort_id}/matches?done=published")


@app.route("/console/cohorts/<cohort_id>/rerun", method=["GET", "POST"])
def rerun_matching(cohort_id: str) -> Response[str]:
    """Runs matching again for a cohort whose run failed or died: the same domain function as the
    coordinators' POST /cohorts/{cohortId}/matching-runs."""
    member, cohort = acting_on(cohort_id)
    if app.current_event.http_method == "GET":
        refused = rerun_refusal(cohort, utcnow())
        if refused is not None:
            return refusal(RerunRefusedError(refused))
        return confirmation(
            member,
            cohort,
            title="Run matching again",
            lines=[
                "Matching did not finish for this cohort: its run failed or stopped part-way.",
                "Running it again matches the cohort as at its deadline. Each person hears their "
                "result once, even if the first run had started sending.",
            ],
            action=f"{base()}/console/cohorts/{cohort_id}/rerun",
            button="Run matching again",
        )
    posted()
    try:
        request_rerun(cohort_id, utcnow(), store(), announcer())
    except RerunRefusedError as problem:
        return refusal(problem)
    audit(member, "ran matching again", cohort_id)
    metrics.add_metric(name="MatchingRerunsRequested", unit="Count", value=1)
    return redirect(f"{base()}/console/cohorts/{cohort_id}?done=rerun")


# ---------------------------------------------------------------- administrators


def console_url() -> str:
    """The console's address as the browser sees it, for the invitation's link."""
    event = app.current_event.raw_event
    headers = event.get("headers") or {}
    host = next((v for k, v in headers.items() if k.lower() == "host"), "localhost")
    local = host.startswith(("localhost", "127.0.0.1"))
    scheme = next(
        (v for k, v in headers.items() if k.lower() == "x-forwarded-proto"), "http" if local else "https"
    )
    return f"{scheme}://{host}{base()}/console"


@app.route("/console/staff", method=["GET", "POST"])
def staff() -> Response[str]:
    member = signed_in()
    require_administrator(member)
    context = views.staff_page(staff_directory().list_staff())
    if app.current_event.http_method == "GET":
        return screen(
            "staff.html", staff=member, nav="staff", title="People with access", values={}, **context
        )
    event = app.current_event.raw_event
    check_csrf(event, form(event))
    fields = form(event)
    chosen = form_values(event, "schemes")
    try:
        request = actions.new_staff_request(fields, chosen)
        invited = actions.invite(
            request, member, utcnow(), identity(), staff_directory(), mailer(), console_url()
        )
    except actions.FormError as problem:
        return screen(
            "staff.html",
            HTTPStatus.BAD_REQUEST,
            staff=member,
            nav="staff",
            title="People with access",
            values=fields,
            errors=problem.errors,
            **{**context, "chosen_schemes": chosen},
        )
    except actions.InvitationError as problem:
        return screen(
            "staff.html",
            HTTPStatus.BAD_REQUEST,
            staff=member,
            nav="staff",
            title="People with access",
            values=fields,
            errors={problem.field: str(problem).capitalize()},
            **{**context, "chosen_schemes": chosen},
        )
    audit(member, "invited", subject=invited.email, detail=f"as {invited.role.value}")
    return redirect(f"{base()}/console/staff?done=invited")


@app.get("/console/audit")
def audit_page() -> Response[str]:
    member = signed_in()
    require_administrator(member)
    return screen("audit.html", staff=member, nav="audit", title="Audit log", entries=audit_log().entries())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@traced(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(routed(event), context)
