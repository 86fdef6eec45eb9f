"""boto3 implementations of the ports in :mod:`mentoring.ports`. The only modules that import boto3."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, TypeVar

import boto3
from botocore import UNSIGNED
from botocore.config import Config

T = TypeVar("T")
R = TypeVar("R")
WORKERS = 8  # requests in flight at once; botocore's pool holds 10 connections a client

# Standard retry mode backs off on throttling and transient errors instead of failing the record.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
# Sending email is not idempotent: botocore would resend after a read timeout, when SES may already
# have accepted the email. One attempt each; the mailer retries only SES's own refusals.
_SEND_ONCE = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=10)
_CONFIGS = {"sesv2": _SEND_ONCE}


def client_config(service: str) -> Config:
    """The project's timeouts and retries for ``service``: also for clients that libraries make
    (Powertools' idempotency layer), whose botocore defaults (60 s to connect, 60 s to read) would
    let one hung call outlast the invocation."""
    return _CONFIGS.get(service, _CONFIG)


@cache
def client(service: str) -> Any:
    """One client per service per process, created on first use (never at import time).

    The endpoint comes from the environment (``AWS_ENDPOINT_URL``) so the same code talks to AWS
    or to the local moto server.
    """
    return boto3.session.Session().client(service, config=client_config(service))  # type: ignore[call-overload]


@cache
def public_client(service: str) -> Any:
    """A client for a service's public operations, which the caller's own token authenticates
    (Cognito's sign-in API): unsigned, as a browser would call it, so no IAM grant is involved."""
    config = _CONFIG.merge(Config(signature_version=UNSIGNED))
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


def in_parallel(work: Callable[[T], R], items: Sequence[T], workers: int = WORKERS) -> list[R]:
    """``work`` on every item, several at once (boto3 clients are thread-safe), results in order;
    the first failure is raised once every item has been tried. Each runs in a copy of the caller's
    context, so what the invocation set there (its log keys; in the tests, whose calls they are)
    holds in the threads too."""
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, work, item) for item in items]
    return [future.result() for future in futures]
