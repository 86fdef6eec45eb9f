"""The console's identity provider: an Amazon Cognito user pool, through its public sign-in API
(InitiateAuth and its challenges) and, for invitations, its administrator API."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

from botocore.exceptions import ClientError

from mentoring.adapters import client, public_client
from mentoring.ports import Challenge, SignInError, Tokens

# Cognito's refusals that a person can act on; anything else is a fault and is raised as it is.
_REFUSALS = {
    "NotAuthorizedException": "The email address or password is not right, or the sign-in has expired.",
    "UserNotFoundException": "The email address or password is not right, or the sign-in has expired.",
    "CodeMismatchException": "That code is not right: enter the code your authenticator app shows now.",
    "EnableSoftwareTokenMFAException": "That code is not right: enter the code your app shows now.",
    "ExpiredCodeException": "That code has expired: enter the code your authenticator app shows now.",
    "InvalidPasswordException": "Choose a password of at least 12 characters with upper and lower case "
    "letters, a number and a symbol.",
    "PasswordResetRequiredException": "Your password must be reset: ask your administrator.",
    "UserNotConfirmedException": "Your account is not yet confirmed: ask your administrator.",
    "TooManyRequestsException": "Too many attempts: wait a minute and try again.",
    "LimitExceededException": "Too many attempts: wait a few minutes and try again.",
    "ResourceNotFoundException": "The sign-in has expired: start again.",
}


def _refusal(error: ClientError) -> SignInError | None:
    code = error.response.get("Error", {}).get("Code", "")
    return SignInError(_REFUSALS[code]) if code in _REFUSALS else None


class CognitoIdentity:
    """IdentityProvider over one user pool and its app client (no client secret: the client's flows
    are USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH only, as the template allows)."""

    def __init__(self, user_pool_id: str, client_id: str, cognito: Any = None, admin: Any = None) -> None:
        self.user_pool_id = user_pool_id
        self.client_id = client_id
        self._client = cognito
        self._admin = admin

    @property
    def idp(self) -> Any:
        """Cognito's public sign-in API, unsigned: the person's password or token authenticates it.
        (Typed as Any: the project does not carry cognito-idp's type stubs.)"""
        if self._client is None:
            self._client = public_client("cognito-idp")
        return self._client

    @property
    def admin(self) -> Any:
        """The administrator API (creating accounts), signed with the function's role."""
        if self._admin is None:
            self._admin = client("cognito-idp")
        return self._admin

    @staticmethod
    def _outcome(response: Any) -> Tokens | Challenge:
        result = response.get("AuthenticationResult")
        if result:
            return Tokens(
                access_token=result["AccessToken"],
                refresh_token=result.get("RefreshToken"),
                expires_in=int(result.get("ExpiresIn", 3600)),
            )
        name = response.get("ChallengeName", "")
        if name not in {"NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA", "MFA_SETUP"}:
            raise SignInError(
                "This account needs a sign-in step the console does not offer: ask your administrator."
            )
        return Challenge(name=name, session=response["Session"])

    def sign_in(self, username: str, password: str) -> Tokens | Challenge:
        try:
            response = self.idp.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as error:
            raise _refusal(error) or error from None
        return self._outcome(response)

    def answer_challenge(
        self, challenge: Challenge, username: str, answers: dict[str, str]
    ) -> Tokens | Challenge:
        try:
            response = self.idp.respond_to_auth_challenge(
                ClientId=self.client_id,
                ChallengeName=challenge.name,
                Session=challenge.session,
                ChallengeResponses={"USERNAME": username, **answers},
            )
        except ClientError as error:
            raise _refusal(error) or error from None
        return self._outcome(response)

    def refresh(self, refresh_token: str) -> Tokens:
        try:
            response = self.idp.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        except ClientError as error:
            raise _refusal(error) or error from None
        outcome = self._outcome(response)
        if not isinstance(outcome, Tokens):
            raise SignInError("Sign in again.")
        return Tokens(outcome.access_token, outcome.refresh_token or refresh_token, outcome.expires_in)

    def sign_out(self, username: str) -> None:
        self.admin.admin_user_global_sign_out(UserPoolId=self.user_pool_id, Username=username)

    def invite(self, email: str, name: str, temporary_password: str) -> str:
        response = self.admin.admin_create_user(
            UserPoolId=self.user_pool_id,
            Username=email,
            TemporaryPassword=temporary_password,
            MessageAction="SUPPRESS",
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
                {"Name": "name", "Value": name},
            ],
        )
        attributes = {a["Name"]: a.get("Value", "") for a in response["User"].get("Attributes", [])}
        return str(attributes["sub"])

    def start_authenticator(self, access_token: str) -> str:
        return str(self.idp.associate_software_token(AccessToken=access_token)["SecretCode"])

    def confirm_authenticator(self, access_token: str, code: str) -> None:
        try:
            self.idp.verify_software_token(
                AccessToken=access_token, UserCode=code, FriendlyDeviceName="console"
            )
        except ClientError as error:
            raise _refusal(error) or error from None
        self.idp.set_user_mfa_preference(
            AccessToken=access_token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
        )


def issuer(user_pool_id: str) -> str:
    """The ``iss`` of the pool's tokens (a pool id starts with its region: ``eu-west-2_AbC``)."""
    region = user_pool_id.split("_", 1)[0]
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def jwks_url(user_pool_id: str) -> str:
    """Where the pool publishes its signing keys; locally, the moto server's copy."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_COGNITO_IDP") or os.environ.get("AWS_ENDPOINT_URL")
    base = f"{endpoint.rstrip('/')}/{user_pool_id}" if endpoint else issuer(user_pool_id)
    return f"{base}/.well-known/jwks.json"


def fetch_jwks(url: str) -> dict[str, Any]:
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ValueError(f"refusing to fetch signing keys from {url}")
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - checked just above
        keys: dict[str, Any] = json.load(response)
    return keys
