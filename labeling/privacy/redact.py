"""Find and replace personal identifiers in text with typed placeholders.

Detected: e-mail addresses (syntax checked by email-validator), phone numbers
(Google's libphonenumber via `phonenumbers`, international or US national, only numbers it
calls valid), IPv4/IPv6 addresses (parsed by `ipaddress`), payment card numbers (13–19
digits, a known issuer prefix and a valid Luhn check digit), and street addresses of the US,
Canada and the UK written out with a house number, street and town (pyap2, a maintained
offline regex library; a UK or Canadian address needs its postcode). Not detected: other
countries' addresses, partial addresses ("down Main Street"), names (Presidio's NER needs a
spaCy model that cannot be installed here), and identifiers written out in words.
"""

import importlib
import ipaddress
import re
from collections import Counter

import phonenumbers
from email_validator import EmailNotValidError, validate_email

PLACEHOLDERS = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "ip": "[IP]",
    "card": "[CARD]",
    "address": "[ADDRESS]",
}
DETECTED = ("email", "phone", "ip", "card", "address")
NOT_DETECTED = (
    "addresses outside the US, Canada and the UK, or without a town",
    "personal names",
    "identifiers spelled out in words",
)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_CARD_PREFIX = re.compile(r"^(4|5[1-5]|2[2-7]|3[47]|6011|65|35)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _emails(text: str):
    for m in _EMAIL.finditer(text):
        try:
            validate_email(m.group(), check_deliverability=False)
        except EmailNotValidError:
            continue
        yield m.start(), m.end(), "email"


def _ips(text: str):
    for pattern in (_IPV4, _IPV6):
        for m in pattern.finditer(text):
            try:
                ipaddress.ip_address(m.group())
            except ValueError:
                continue
            yield m.start(), m.end(), "ip"


def _cards(text: str):
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_ok(digits):
            yield m.start(), m.end(), "card"


# pyap's own full-address patterns (US, Canada, UK), matched only where an address can
# start and anchored there: pyap.parse scans every position of the text (milliseconds per
# kilobyte) and reports offsets in a white-space-normalised copy, not in the text we replace
# in. A start is a house number before a capitalised or numbered street name, followed soon
# by a comma, a line break or a ZIP code (the street ends before the town): an anchored try
# of the US pattern still costs about 2 ms, too much for every "3 Steps" of a long answer.
_ADDRESS_PATTERNS = tuple(
    re.compile(importlib.import_module(f"pyap.source_{country}.data").full_address, re.X | re.U)
    for country in ("US", "CA", "GB")
)
_STREET_START = re.compile(r"(?<![\w.,:/-])\d{1,6}[A-Za-z]?(?:-\d{1,6})?\s+[A-Z0-9]")
_STREET_END = re.compile(r"[,\n]|\b\d{5}\b")
_STREET_END_WITHIN = 80
_ADDRESS_WINDOW = 200


def _addresses(text: str):
    for m in _STREET_START.finditer(text):
        start = m.start()
        if not _STREET_END.search(text, m.end(), start + _STREET_END_WITHIN):
            continue
        for pattern in _ADDRESS_PATTERNS:
            found = pattern.match(text, start, start + _ADDRESS_WINDOW)
            if found:
                yield found.start(), found.end(), "address"
                break


def _phones(text: str):
    for match in phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.VALID):
        yield match.start, match.end, "phone"


def find(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, kind) spans, the earliest and longest first."""
    spans = sorted(
        [*_emails(text), *_cards(text), *_ips(text), *_phones(text), *_addresses(text)],
        key=lambda s: (s[0], -(s[1] - s[0])),
    )
    kept: list[tuple[int, int, str]] = []
    for span in spans:
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def redact(text: str) -> tuple[str, Counter]:
    """The text with each identifier replaced by its placeholder, and counts by kind."""
    counts: Counter = Counter()
    out, pos = [], 0
    for start, end, kind in find(text):
        out.append(text[pos:start])
        out.append(PLACEHOLDERS[kind])
        counts[kind] += 1
        pos = end
    out.append(text[pos:])
    return "".join(out), counts
