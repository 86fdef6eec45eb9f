"""The console as a browser uses it, in-process: real Cognito tokens from the moto server's user
pool, in cookies, on API Gateway events the console and report functions answer."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from mentoring.models import StaffMember, StaffRole

from infrastructure.staff import add_staff_member
from tests.integration.helpers import Stack, api_event

PASSWORD = "Correct-Horse-Battery-9!"
HOST = "abc123.execute-api.eu-west-2.amazonaws.com"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    set_cookies: list[str]
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def cookie(self, name: str) -> str | None:
        for line in self.set_cookies:
            if line.startswith(name + "="):
                return line
        return None


@dataclass
class Browser:
    """Cookies kept between requests, as a browser keeps them for the console's host."""

    stack: Stack
    jar: dict[str, str] = field(default_factory=dict)
    origin: str | None = f"https://{HOST}"

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, query: dict[str, str] | None = None
    ) -> Reply:
        body = urlencode(form) if form is not None else None
        event = api_event(method, path, body, content_type="application/x-www-form-urlencoded", query=query)
        function = (
            "ReportFunction"
            if re.fullmatch(r"/console/(cohorts/[^/]+/(report|evaluation)|schemes/[^/]+/evaluation)", path)
            else "ConsoleFunction"
        )
        if function == "ConsoleFunction" and path != "/console":
            event["resource"] = "/console/{proxy+}"
            event["pathParameters"] = {"proxy": path.removeprefix("/console/")}
        event["requestContext"]["path"] = "/dev" + path
        headers = {"Host": HOST}
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        if method == "POST" and self.origin:
            headers["Origin"] = self.origin
        for key, value in headers.items():
            event["headers"][key] = value
            event["multiValueHeaders"][key] = [value]
        response = self.stack.call(function, event)
        set_cookies = list((response.get("multiValueHeaders") or {}).get("Set-Cookie", []))
        for line in set_cookies:
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in line:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        headers = dict(response.get("headers") or {})
        for key, values in (response.get("multiValueHeaders") or {}).items():
            if key != "Set-Cookie":
                headers[key] = values[0]
        return Reply(response["statusCode"], headers, set_cookies, response.get("body") or "")

    def get(self, path: str, **query: str) -> Reply:
        return self.request("GET", path, query=query or None)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        """A form of the console's own page: the anti-forgery token is the one its page carried."""
        if "csrf_token" not in form:
            form = {**form, "csrf_token": self.jar.get("__Host-mentoring-csrf", "")}
        return self.request("POST", path, form=form)


def new_staff(
    stack: Stack, role: StaffRole, schemes: tuple[str, ...] = (), institution: str | None = None
) -> StaffMember:
    email = f"staff-{uuid.uuid4().hex[:10]}@example.ac.uk"
    return add_staff_member(
        stack.client("cognito-idp"),
        stack.client("dynamodb"),
        stack.physical("ConsoleUserPool"),
        stack.physical("ApplicationsTable"),
        email=email,
        name=f"{role.value.title()} {email[6:12]}",
        role=role,
        password=PASSWORD,
        schemes=schemes,
        institution=institution,
    )


def signed_in(stack: Stack, member: StaffMember) -> Browser:
    """A browser that signed in through the console's own sign-in form."""
    browser = Browser(stack)
    browser.get("/console/sign-in")
    reply = browser.post(
        "/console/sign-in", {"email": member.email, "password": PASSWORD, "next": "/console"}
    )
    assert reply.status == 303, reply.body
    assert "__Host-mentoring-session" in browser.jar
    return browser


def tokens(stack: Stack, member: StaffMember) -> dict[str, Any]:
    result: dict[str, Any] = stack.client("cognito-idp").initiate_auth(
        ClientId=stack.physical("ConsoleUserPoolClient"),
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": member.email, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return result
