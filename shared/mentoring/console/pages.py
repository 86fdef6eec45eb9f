"""The console's HTML: Jinja2 templates with autoescaping (every value a person typed is escaped),
in the GOV.UK Design System's patterns, usable without JavaScript."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from mentoring.institutions import institution_name
from mentoring.scheme import load_schemes

LONDON = ZoneInfo("Europe/London")


def london(moment: datetime | None) -> str:
    """A moment as a UK reader expects it: '18 December 2020, 5:00pm GMT' (BST in summer)."""
    if moment is None:
        return ""
    local = moment.astimezone(LONDON)
    hour = local.strftime("%I").lstrip("0")
    return f"{local.day} {local:%B %Y}, {hour}:{local:%M}{local.strftime('%p').lower()} {local.tzname()}"


def london_input(moment: datetime | None) -> str:
    """The value of a ``datetime-local`` field, in London time."""
    return "" if moment is None else moment.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def label(value: str) -> str:
    return value.replace("_", " ").capitalize()


def scheme_name(scheme_id: str) -> str:
    scheme = load_schemes().get(scheme_id)
    return scheme.name if scheme else scheme_id


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mentoring", "templates/console"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        london=london,
        london_input=london_input,
        label=label,
        institution=institution_name,
        scheme_name=scheme_name,
    )
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
