"""The one place that builds the Logger, Tracer and Metrics of every function.

Never log an event or a submission: this system carries special-category personal data.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
