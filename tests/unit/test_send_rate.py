"""Notify keeps to SES's sending rate: each mailer spaces its attempts by its share of the rate."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from botocore.exceptions import ClientError
from mentoring.adapters.messaging import SesMailer
from mentoring.ports import OutgoingEmail
from mentoring.settings import NotifySettings

pytestmark = pytest.mark.unit

EMAIL = OutgoingEmail(to="amara@example.ac.uk", subject="Hello", text="Hello", html="<p>Hello</p>")


class Clock:
    """Time that passes only when the mailer sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Ses:
    """SES as the mailer sees it: it notes when each request arrives, and throttles the first few."""

    def __init__(self, clock: Clock, throttled: int = 0) -> None:
        self.clock = clock
        self.throttled = throttled
        self.arrivals: list[float] = []

    def send_email(self, **_: Any) -> dict[str, str]:
        self.arrivals.append(self.clock())
        if len(self.arrivals) <= self.throttled:
            raise ClientError({"Error": {"Code": "TooManyRequestsException"}}, "SendEmail")
        return {"MessageId": f"m{len(self.arrivals)}"}


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def test_a_mailer_never_asks_ses_faster_than_its_rate() -> None:
    clock = Clock()
    ses = Ses(clock)
    mailer = SesMailer("edi@example.ac.uk", ses=ses, rate=7, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]

    for _ in range(8):
        mailer.send(EMAIL)

    assert min(gaps(ses.arrivals)) >= 1 / 7 - 1e-9
    assert ses.arrivals[-1] - ses.arrivals[0] == pytest.approx(7 / 7)  # and no slower than it must


def test_throttled_attempts_keep_to_the_rate_as_well() -> None:
    clock = Clock()
    ses = Ses(clock, throttled=2)
    mailer = SesMailer("edi@example.ac.uk", ses=ses, rate=2, backoff=0.0, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]

    assert mailer.send(EMAIL) == "m3"
    assert min(gaps(ses.arrivals)) >= 0.5 - 1e-9


def test_each_invocation_sends_at_its_share_of_the_accounts_rate() -> None:
    settings = NotifySettings.model_validate(
        {
            "applications_table": "t",
            "sender_email": "edi@example.ac.uk",
            "idempotency_table": "i",
            "ses_max_send_rate": "14",
            "notify_concurrency": "2",
            "public_api_url": "https://api.example/dev",
            "programme_link_secret": "links",
        }
    )

    assert settings.send_rate == 7
    assert settings.send_rate * settings.notify_concurrency <= settings.ses_max_send_rate
