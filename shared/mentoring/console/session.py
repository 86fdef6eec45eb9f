"""Who is signed in: the user pool's access token, checked as API Gateway's Cognito authorizer
checks it, carried in cookies that page scripts cannot read, and forms guarded against other sites.

The token is verified on every request by the function that serves the page (the console, and the
report function for the report page), in the same code locally and in AWS:

- its signature, RS256 only, with a key of the pool's published key set (JWKS), looked up by ``kid``;
- ``iss`` is this pool, ``client_id`` is the console's app client, ``token_use`` is ``access``;
- ``exp`` has not passed (no leeway), and ``sub`` is present.

Any failure is the same answer: not signed in.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from mentoring.routing import public_prefix

SESSION_COOKIE = "__Host-mentoring-session"
REFRESH_COOKIE = "__Host-mentoring-refresh"
CSRF_COOKIE = "__Host-mentoring-csrf"
SIGN_IN_COOKIE = "__Host-mentoring-sign-in"
CSRF_FIELD = "csrf_token"
# A key set is fetched again for an unknown key id at most this often (a forged kid cannot make
# every request fetch it).
JWKS_REFRESH_SECONDS = 300


class NotSignedInError(Exception):
    """No valid session: the person is sent to the sign-in page."""


class CrossSiteRequestError(Exception):
    """A form post that did not come from the console's own page (403)."""


@dataclass(frozen=True)
class SignedIn:
    user_id: str
    access_token: str
    expires_at: int


class KeySetCache:
    """The pool's JSON Web Key Set, fetched on first use and again (rarely) for an unknown key id."""

    def __init__(self, fetch: Callable[[], dict[str, Any]]) -> None:
        self._fetch = fetch
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def keys(self, refresh: bool = False) -> KeySet:
        with self._lock:
            stale = refresh and time.monotonic() - self._fetched_at > JWKS_REFRESH_SECONDS
            if self._keys is None or stale:
                self._keys = KeySet.import_key_set(self._fetch())  # type: ignore[arg-type]
                self._fetched_at = time.monotonic()
            return self._keys


class TokenVerifier:
    def __init__(self, issuer: str, client_id: str, keys: KeySetCache) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._keys = keys

    def verify(self, token: str, now: int | None = None) -> SignedIn:
        try:
            header = json.loads(_b64(token.split(".", maxsplit=1)[0]))
            kid = header.get("kid") if isinstance(header, dict) else None
            keys = self._keys.keys()
            if not any(k.kid == kid for k in keys.keys):
                keys = self._keys.keys(refresh=True)
            decoded = jwt.decode(token, keys, algorithms=["RS256"])
            claims = jwt.JWTClaimsRegistry(
                now=now if now is not None else int(time.time()),
                iss={"essential": True, "value": self.issuer},
                client_id={"essential": True, "value": self.client_id},
                token_use={"essential": True, "value": "access"},
                exp={"essential": True},
                sub={"essential": True},
            )
            claims.validate(decoded.claims)
        except (JoseError, ValueError, IndexError, TypeError) as error:
            raise NotSignedInError(type(error).__name__) from None
        return SignedIn(str(decoded.claims["sub"]), token, int(decoded.claims["exp"]))


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


# ---------------------------------------------------------------- the request's cookies and headers


def header(headers: Mapping[str, str] | None, name: str) -> str:
    """A request header by case-insensitive name ('' when absent)."""
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return ""


def cookies(event: Mapping[str, Any]) -> dict[str, str]:
    """The request's cookies; a name sent twice keeps its first value (the most specific path)."""
    found: dict[str, str] = {}
    raw = event.get("multiValueHeaders") or {}
    values = next((v for k, v in raw.items() if k.lower() == "cookie"), None)
    if not values:
        single = header(event.get("headers"), "cookie")
        values = [single] if single else []
    for value in values:
        for part in value.split(";"):
            name, sep, content = part.strip().partition("=")
            if sep and name and name not in found:
                found[name] = content
    return found


def csrf_token_of(event: Mapping[str, Any]) -> str:
    """This browser's anti-forgery token (set by the console's first page), for the forms of a page."""
    return cookies(event).get(CSRF_COOKIE, "")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def check_same_site(headers: Mapping[str, str] | None) -> None:
    """A state-changing request must come from the console's own pages: the browser's Origin (or,
    without one, its Sec-Fetch-Site) must say so. Browsers send at least one of them on a form post."""
    origin = header(headers, "origin")
    host = header(headers, "host")
    if origin and origin != "null":
        if urlsplit(origin).netloc.lower() != host.lower():
            raise CrossSiteRequestError("the form was sent from another site")
        return
    if origin == "null" or header(headers, "sec-fetch-site").lower() in {"cross-site", "same-site"}:
        raise CrossSiteRequestError("the form was sent from another site")


def check_csrf(event: Mapping[str, Any], form: Mapping[str, str]) -> None:
    """The form's token must equal the token in the console's own cookie (which another site can
    neither read nor set: ``__Host-`` cookies), and the request must come from this site."""
    check_same_site(event.get("headers"))
    expected = cookies(event).get(CSRF_COOKIE, "")
    sent = form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CrossSiteRequestError("the form's security token is missing or out of date")


def base_path(event: Mapping[str, Any]) -> str:
    """The prefix before the route in the browser's address (``/dev`` on API Gateway's own domain,
    the base path mapping on a custom one, nothing locally), so links and redirects stay inside it."""
    return public_prefix(event)
