"""The template's AWS WAF rate-based rules, played by the local API front door.

Each rule of each ``AWS::WAFv2::WebACL`` that counts requests by client address (``AggregateKeyType:
IP``) is read from template.yaml with its limit, its evaluation window, the requests it counts (a
scope-down of method and path matches) and its block response. A client that sends more than the
limit within the window gets the rule's response, as WAF answers it, until its count falls again.
WAF evaluates its rates every few seconds over the window; this counts exactly, which is stricter.
What is not played: the IP reputation of real clients, and WAF's own metrics.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infrastructure.local.template import Stack

Clock = Callable[[], float]


@dataclass(frozen=True)
class Match:
    """One byte-match of a scope-down (or its negation): the method or the URI path."""

    part: str  # "Method" or "UriPath"
    constraint: str  # EXACTLY, STARTS_WITH, ENDS_WITH, CONTAINS
    text: str
    lowercase: bool
    negated: bool = False

    def holds(self, method: str, path: str) -> bool:
        return self._found(method if self.part == "Method" else path) != self.negated

    def _found(self, value: str) -> bool:
        if self.lowercase:
            value = value.lower()
        match self.constraint:
            case "EXACTLY":
                return value == self.text
            case "STARTS_WITH":
                return value.startswith(self.text)
            case "ENDS_WITH":
                return value.endswith(self.text)
            case _:
                return self.text in value


@dataclass(frozen=True)
class RateRule:
    name: str
    limit: int
    window: int
    matches: tuple[Match, ...]
    status: int
    body: str
    content_type: str
    headers: tuple[tuple[str, str], ...]

    def counts(self, method: str, path: str) -> bool:
        return all(m.holds(method, path) for m in self.matches)


def _matches(statement: dict[str, Any]) -> tuple[Match, ...]:
    if "AndStatement" in statement:
        return tuple(m for s in statement["AndStatement"]["Statements"] for m in _matches(s))
    if "NotStatement" in statement:
        (single,) = _matches(statement["NotStatement"]["Statement"])
        return (Match(single.part, single.constraint, single.text, single.lowercase, negated=True),)
    byte = statement.get("ByteMatchStatement")
    if byte is None:
        raise ValueError(f"the local firewall plays byte matches only, not {sorted(statement)}")
    part = next(iter(byte["FieldToMatch"]))
    lowercase = any(t.get("Type") == "LOWERCASE" for t in byte.get("TextTransformations", []))
    return (Match(part, byte["PositionalConstraint"], byte["SearchString"], lowercase),)


CONTENT_TYPES = {"APPLICATION_JSON": "application/json", "TEXT_PLAIN": "text/plain", "TEXT_HTML": "text/html"}


def rate_rules(stack: Stack) -> list[RateRule]:
    """Every rate-based rule by client address of the template's web ACLs, in priority order."""
    rules = []
    for _, properties in stack.of_type("AWS::WAFv2::WebACL"):
        bodies = properties.get("CustomResponseBodies", {})
        for rule in sorted(properties.get("Rules", []), key=lambda r: r["Priority"]):
            rate = rule["Statement"].get("RateBasedStatement")
            if rate is None or rate.get("AggregateKeyType") != "IP":
                continue
            response = rule["Action"].get("Block", {}).get("CustomResponse", {})
            body = bodies.get(response.get("CustomResponseBodyKey", ""), {})
            scope = rate.get("ScopeDownStatement")
            rules.append(
                RateRule(
                    name=rule["Name"],
                    limit=int(rate["Limit"]),
                    window=int(rate.get("EvaluationWindowSec", 300)),
                    matches=_matches(scope) if scope else (),
                    status=int(response.get("ResponseCode", 403)),
                    body=body.get("Content", ""),
                    content_type=CONTENT_TYPES.get(body.get("ContentType", ""), "text/plain"),
                    headers=tuple((h["Name"], h["Value"]) for h in response.get("ResponseHeaders", [])),
                )
            )
    return rules


@dataclass
class Firewall:
    """Counts each client's requests per rule over the rule's window; blocks those over the limit."""

    rules: list[RateRule]
    clock: Clock = time.monotonic
    _seen: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, client: str, method: str, path: str) -> RateRule | None:
        """The rule that blocks this request, or None; every rule that counts it counts it."""
        now = self.clock()
        blocked = None
        with self._lock:
            for rule in self.rules:
                if not rule.counts(method.upper(), path):
                    continue
                seen = self._seen.setdefault((rule.name, client), deque())
                while seen and seen[0] <= now - rule.window:
                    seen.popleft()
                seen.append(now)
                if len(seen) > rule.limit and blocked is None:
                    blocked = rule
        return blocked
