"""PII redaction: every kind of identifier found, ordinary numbers left alone."""

from collections import Counter

import pytest

from labeling.privacy.redact import luhn_ok, redact

FIXTURE = (
    "Mail jane.doe+work@example.co.uk or call +44 20 7946 0958, or (415) 555-2671 in the US. "
    "Server 192.168.10.24 and 2001:db8::8a2e:370:7334 logged it. "
    "Card 4111 1111 1111 1111, Amex 3782-822463-10005."
)


def test_every_kind_of_identifier_is_replaced_and_counted():
    text, counts = redact(FIXTURE)
    assert "jane.doe" not in text and "7946" not in text and "555-2671" not in text
    assert "192.168" not in text and "2001:db8" not in text
    assert "4111" not in text and "3782" not in text
    assert counts == {"email": 1, "phone": 2, "ip": 2, "card": 2}
    assert text.startswith("Mail [EMAIL] or call [PHONE], or [PHONE] in the US.")
    assert "Server [IP] and [IP] logged it." in text
    assert text.endswith("Card [CARD], Amex [CARD].")


@pytest.mark.parametrize(
    "ordinary",
    [
        "In 1969 about 600 million people watched the landing.",
        "The table has 1,234,567 rows and 42 columns.",
        "Pi is 3.14159265358979 and e is 2.718281828.",
        "Python 3.11.7 and Django 5.2.19 were released.",
        "Order #100234 shipped; tracking 1Z999AA10123456784.",
        "Score: 12-7, then 110-98 in overtime.",
        "Room 4111, floor 12, building 7.",
        "The ratio was 16:9 at 10:30 on 2024-05-01.",
        "A 16-digit number that fails Luhn: 4111 1111 1111 1112.",
        "ISBN 978-3-16-148410-0 is a book.",
        "Temperature -40 equals -40; 100 °C is 212 °F.",
        "user@localhost is not a real address.",
        "Version 10.0.19041.1 of the build.",
    ],
)
def test_ordinary_numbers_are_not_redacted(ordinary):
    text, counts = redact(ordinary)
    assert text == ordinary
    assert sum(counts.values()) == 0


def test_luhn():
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Send it to 1600 Pennsylvania Avenue NW, Washington, DC 20500 please.",
            "Send it to [ADDRESS] please.",
        ),
        ("Visit 123 Main St, Springfield, IL 62701.", "Visit [ADDRESS]."),
        ("I live at 221B Baker Street, London NW1 6XE.", "I live at [ADDRESS]."),
        ("Office: 100 King Street West, Toronto, ON M5X 1A9", "Office: [ADDRESS]"),
        ("Ring 415-555-0132 at 123  Main St,Springfield, IL", "Ring [PHONE] at [ADDRESS]"),
    ],
)
def test_street_addresses_are_redacted(text, expected):
    redacted, counts = redact(text)
    assert redacted == expected
    assert counts["address"] == 1


@pytest.mark.parametrize(
    "text",
    [
        "We have 3 tables and 12 chairs in 45 rooms.",
        "Table 3 Shows 120 Rows and 14 Columns.",
        "| Region | Count |\n| North | 120 |\n| South | 45 Units |",
        "In 2023 There were 1500 Cases in 50 States.",
        "Chapter 12 Section 4 Paragraph 3",
        "Turn left after 200 Meters on Oak Road, then 3 Blocks.",
        "He walked 5 miles down Main Street.",
        "Step 1: Preheat the oven to 350 degrees. Step 2: Bake 25 minutes.",
    ],
)
def test_ordinary_numbers_are_not_addresses(text):
    assert redact(text) == (text, Counter())
