"""The one place that builds the Logger, Tracer and Metrics of every function.

Never log an event or a submission: this system carries special-category personal data. For the
same reason a trace never holds a handler's response (a re-rendered form carries the applicant's
name, email and every monitoring answer they chose; admin answers carry names) nor an error's
details: handlers are traced with :data:`traced`, and the template sets
``POWERTOOLS_TRACER_CAPTURE_RESPONSE`` and ``POWERTOOLS_TRACER_CAPTURE_ERROR`` to false for any
method traced elsewhere. X-Ray's own botocore patch records only AWS parameters on its allow-list
(table and queue names, never an item or a message body).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Every handler's tracing: timings and AWS calls only, never the response or the error's details.
traced = tracer.capture_lambda_handler(capture_response=False, capture_error=False)
