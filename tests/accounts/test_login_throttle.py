"""The web login refuses for a while after too many failures."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def _fresh_counts(settings):
    settings.LOGIN_MAX_FAILURES = 3
    cache.clear()
    yield
    cache.clear()


def test_too_many_failures_lock_the_login_even_with_the_right_password(client, trainer):
    url = reverse("login")
    for _ in range(3):
        assert client.post(url, {"username": "trainer", "password": "wrong"}).status_code == 200
    refused = client.post(url, {"username": "trainer", "password": PASSWORD})
    assert refused.status_code == 429
    assert "Too many failed attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_good_login_is_not_counted(client, trainer):
    url = reverse("login")
    for _ in range(5):
        response = client.post(url, {"username": "trainer", "password": PASSWORD})
        assert response.status_code == 302
        client.logout()
