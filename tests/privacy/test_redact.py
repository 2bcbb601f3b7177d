"""PII redaction: every kind of identifier found, ordinary numbers left alone."""

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
