"""Where a request stands in the browser's address, whichever domain serves the API.

API Gateway routes a request by its ``resource`` (the template's path). On API Gateway's own domain
the event's ``path`` leaves out the stage that the address holds (``/dev``); under a custom domain
with a base path mapping, ``path`` keeps the mapping (``/apply/applications``), and a router that
matched on it would answer 404. So handlers route on the path as the template names it, and build
links and form actions from the prefix the browser's address has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def route_path(event: Mapping[str, Any]) -> str:
    """The request's path as the template's routes name it: the last segments of ``path``, as many
    as the matched ``resource`` has (a greedy ``{name+}`` counts the segments it matched)."""
    path = str(event.get("path") or "/")
    resource = str(event.get("resource") or "")
    if not resource:
        return path
    parameters = event.get("pathParameters") or {}
    count = 0
    for part in _segments(resource):
        greedy = part.startswith("{") and part.endswith("+}")
        count += max(1, len(_segments(str(parameters.get(part[1:-2], ""))))) if greedy else 1
    segments = _segments(path)
    kept = segments[len(segments) - count :] if count else []
    return "/" + "/".join(kept) + ("/" if kept and path.endswith("/") else "")


def routed(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event with ``path`` as the routes name it (a custom domain's base path mapping taken off)."""
    return {**event, "path": route_path(event)}


def public_prefix(event: Mapping[str, Any]) -> str:
    """What precedes the route in the browser's address: the stage on API Gateway's own domain
    (``/dev``), the base path mapping on a custom domain, nothing locally. Links and form actions
    start with it, so that they stay inside the API whether or not the address ends with a slash."""
    route = route_path(event).rstrip("/")
    full = str((event.get("requestContext") or {}).get("path") or event.get("path") or "").rstrip("/")
    if not route:
        return full
    return full[: len(full) - len(route)] if full.endswith(route) else ""
