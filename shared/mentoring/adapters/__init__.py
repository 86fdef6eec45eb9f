"""boto3 implementations of the ports in :mod:`mentoring.ports`. The only modules that import boto3."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling and transient errors instead of failing the record.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)


@cache
def client(service: str) -> Any:
    """One client per service per process, created on first use (never at import time).

    The endpoint comes from the environment (``AWS_ENDPOINT_URL``) so the same code talks to AWS
    or to the local moto server.
    """
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]
