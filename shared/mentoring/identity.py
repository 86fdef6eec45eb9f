r"""Who an applicant is, for finding the same person twice: one canonical form of an email address,
and one key for a name at an institution.

The canonical address (never shown, never sent to: only compared) is built in this order:

1. Unicode NFKC, then case folding: fullwidth ``\uff41mara@`` and ``AMARA@`` are ``amara@``;
2. lookalikes: each character left outside ASCII that Unicode's confusables data (TR39, through the
   ``confusable-homoglyphs`` package) says looks like an ASCII letter or digit becomes that
   character, so a Cyrillic ``\u0430`` is a Latin ``a``. ASCII characters are kept as they are: ``1`` and
   ``l`` are different addresses that real people hold;
3. what the address's mail system treats as the same mailbox (``mailboxes.yaml``, stated per
   institution and provider): ``amara+2@`` is ``amara@`` where plus addressing is on, dots are
   dropped only where the system ignores them (Gmail), and ``googlemail.com`` is ``gmail.com``.
"""

from __future__ import annotations

import hashlib
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

MAILBOXES_FILE = Path(__file__).parent / "mailboxes.yaml"


class MailboxRules(BaseModel):
    """What one mail system treats as the same mailbox."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str = ""
    subaddress: str | None = Field(default="+", min_length=1, max_length=1)
    dots_ignored: bool = False
    same_as: str | None = None


class InstitutionMail(MailboxRules):
    domains: list[str] = Field(min_length=1)


class MailboxesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: MailboxRules
    institutions: dict[str, InstitutionMail] = Field(default_factory=dict)
    providers: dict[str, MailboxRules] = Field(default_factory=dict)


@cache
def mailbox_rules(path: Path = MAILBOXES_FILE) -> tuple[MailboxRules, dict[str, MailboxRules]]:
    """The default rules and the rules of each known domain."""
    data = MailboxesFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    by_domain: dict[str, MailboxRules] = dict(data.providers)
    for institution in data.institutions.values():
        for domain in institution.domains:
            by_domain[domain] = institution
    return data.default, by_domain


@cache
def _confusables() -> dict[str, Any]:
    """Unicode's confusables, loaded only when an address holds a character outside ASCII."""
    from confusable_homoglyphs.confusables import confusables_data  # type: ignore[import-untyped]  # noqa: PLC0415

    data: dict[str, Any] = confusables_data
    return data


@cache
def _ascii_lookalike(character: str) -> str:
    """The ASCII letter or digit that ``character`` looks like, or the character itself."""
    candidates = sorted(
        glyph["c"]
        for glyph in _confusables().get(character, [])
        if len(glyph["c"]) == 1 and glyph["c"].isascii() and glyph["c"].isalnum()
    )
    return candidates[0].casefold() if candidates else character


def fold(text: str) -> str:
    """NFKC, case folded, with every lookalike of an ASCII letter or digit made that letter or digit."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    if folded.isascii():
        return folded
    return "".join(c if c.isascii() else _ascii_lookalike(c) for c in folded)


def canonical_email(address: str) -> str:
    """The form of an address under which one mailbox is one applicant (for comparing only)."""
    local, _, domain = address.strip().rpartition("@")
    local, domain = fold(local), fold(domain).rstrip(".")
    default, known = mailbox_rules()
    rules = known.get(domain, default)
    if rules.same_as is not None:
        domain = rules.same_as
        rules = known.get(domain, default)
    if rules.subaddress and rules.subaddress in local:
        local = local.split(rules.subaddress, 1)[0]
    if rules.dots_ignored:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def person_key(given_name: str, family_name: str, institution: str | None) -> str:
    """One key for a name at an institution, whatever its case, spacing, punctuation or lookalikes:
    the same person applying under two addresses (through two doors) shares it."""
    name = "".join(c for c in fold(f"{given_name} {family_name}") if c.isalnum())
    return hashlib.sha256(f"{name}#{institution or ''}".encode()).hexdigest()
