"""Each function's settings: read from the environment that template.yaml sets, checked at cold start,
so a missing or malformed variable fails loudly at once rather than on the first request."""

from __future__ import annotations

import os
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, Json


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    applications_table: str
    # Applicants' personal data is deleted this long after the cohort's recruitment deadline.
    applicant_data_retention_days: int = 548

    @classmethod
    def from_env(cls) -> Self:
        return cls.model_validate({name.lower(): value for name, value in os.environ.items()})


class SubmitSettings(Settings):
    intake_queue_url: str
    notify_queue_url: str  # a web-form application's confirmation link, for its email
    partner_api_keys: Json[dict[str, str]]
    """API key id -> institution code, so a partner's institution comes from its key."""
    monitoring_key_id: str
    """The Monitoring KMS key that seals monitoring answers (submit may only encrypt with it)."""
    submission_id_secret: str
    """The Secrets Manager secret that keys submission ids and applicants' claims."""


class IntakeSettings(Settings):
    monitoring_table: str
    late_answers_grace_days: int
    """After a cohort's deadline plus this, monitoring answers are no longer held (never stored)."""
    idempotency_table: str
    notify_queue_url: str


class MatchingSettings(Settings):
    notify_queue_url: str
    # The watch on each run's lease: a one-time schedule that puts an event on the bus.
    event_bus_arn: str
    schedule_group: str
    scheduler_role_arn: str
    deadline_dead_letter_queue_arn: str


class ProgrammeSettings(Settings):
    notify_queue_url: str


class NotifySettings(Settings):
    sender_email: str
    idempotency_table: str
    # The console's address: coordinators' emails link to its pages.
    console_url: str = ""
    # Participants' emails after the match carry their personal link: the public API's address,
    # and the Secrets Manager secret that keys the links' tokens (mentoring.participation).
    public_api_url: str
    programme_link_secret: str
    # The account's SES sending rate, shared by at most this many invocations at once.
    ses_max_send_rate: float = Field(gt=0)
    notify_concurrency: int = Field(ge=1)

    @property
    def send_rate(self) -> float:
        """Emails a second for one invocation: its share of the account's rate."""
        return self.ses_max_send_rate / self.notify_concurrency


class AdminSettings(Settings):
    notify_queue_url: str
    event_bus_arn: str
    schedule_group: str
    scheduler_role_arn: str
    deadline_dead_letter_queue_arn: str


class SignInSettings(Settings):
    """The console's user pool and app client; sessions last this many hours at most."""

    user_pool_id: str
    user_pool_client_id: str
    console_session_hours: int = 12


class ReportSettings(SignInSettings):
    monitoring_table: str


class ConsoleSettings(AdminSettings, SignInSettings):
    sender_email: str


class MonitoringSettings(Settings):
    monitoring_table: str
    monitoring_key_id: str
    late_answers_grace_days: int
    """Pending answers still fewer than k this long after the deadline are deleted."""


class ParticipantSettings(Settings):
    """The participant's page: reads links' hashes and records what happened; seals evaluations."""

    monitoring_table: str
    monitoring_key_id: str
