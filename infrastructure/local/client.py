"""An HTTP client of the mentoring API as real clients use it: JSON, partner API keys, and SigV4
signatures on the coordinators' (IAM-authorised) routes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from infrastructure.local.template import REGION

# Connecting to the local API is the kernel's work and quick however busy the machine; the answer
# waits for no fixed time: the runtime answers every request itself, within the function's timeout.
TIMEOUT = (10, None)


@dataclass
class Reply:
    status: int
    body: Any


@dataclass
class ApiClient:
    base_url: str
    access_key: str = "testing"
    secret_key: str = "testing"  # noqa: S105 - moto's dummy credentials

    def _send(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Reply:
        data = None if body is None else body if isinstance(body, str) else json.dumps(body)
        response = requests.request(method, self.base_url + path, data=data, headers=headers, timeout=TIMEOUT)
        try:
            parsed: Any = response.json()
        except ValueError:
            parsed = response.text
        return Reply(response.status_code, parsed)

    def apply(self, submission: Any) -> Reply:
        return self._send("POST", "/applications", submission, {"Content-Type": "application/json"})

    def confirm(self, token: str) -> Reply:
        """The applicant presses the button on the page their emailed link opened."""
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        return self._send("POST", "/applications/confirm", f"token={token}", form)

    def partner_batch(self, api_key: str | None, applications: list[Any]) -> Reply:
        headers = {"Content-Type": "application/json", **({"x-api-key": api_key} if api_key else {})}
        return self._send("POST", "/partners/applications", {"applications": applications}, headers)

    def partner_status(self, api_key: str, reference: str) -> Reply:
        return self._send("GET", f"/partners/applications/{reference}", None, {"x-api-key": api_key})

    def signed(self, method: str, path: str, body: Any = None) -> Reply:
        """A coordinator's call, signed with SigV4 for execute-api as an IAM principal would sign it."""
        data = None if body is None else json.dumps(body)
        request = AWSRequest(
            method=method, url=self.base_url + path, data=data, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(Credentials(self.access_key, self.secret_key), "execute-api", REGION).add_auth(request)
        return self._send(method, path, data, dict(request.headers))


_LINK = re.compile(r"/applications/confirm\?token=([A-Za-z0-9_-]+)")


def confirmation_tokens(raw_emails: Iterable[bytes]) -> dict[str, list[str]]:
    """The confirmation links' tokens in these emails, by recipient, oldest first: what an
    applicant would click, read from the outbox (the local runtime's, or moto's SES)."""
    found: dict[str, list[str]] = {}
    for raw in raw_emails:
        message = message_from_bytes(raw, policy=policy.default)
        plain = message.get_body(preferencelist=("plain",))
        text = str(plain.get_content()) if plain is not None else ""
        for token in _LINK.findall(text):
            found.setdefault(str(message["To"]), []).append(token)
    return found
