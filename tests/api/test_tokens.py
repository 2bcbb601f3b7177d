"""Tokens: made on the profile page or by the API, shown once, revocable, throttled."""

import re

import pytest
from rest_framework.test import APIClient

from labeling.api.models import ApiToken, hash_key
from tests.factories import PASSWORD, make_user

from .conftest import client_for


@pytest.mark.urls("tests.api.urls")
def test_the_profile_page_shows_a_new_key_once_and_revokes_it(client, db):
    user = make_user("scripter")
    client.login(username=user.username, password=PASSWORD)
    created = client.post("/account/tokens/", {"name": "export script"})
    assert created.status_code == 201
    key = re.search(r'id="new-token-key">([^<]+)<', created.content.decode()).group(1)
    token = ApiToken.objects.get(user=user)
    assert token.key_hash == hash_key(key) and key not in str(token.__dict__)

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/projects/").status_code == 200

    page = client.get("/account/tokens/").content.decode()
    assert "export script" in page and key not in page

    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert api.get("/api/v1/projects/").status_code == 401


@pytest.mark.urls("tests.api.urls")
def test_the_profile_page_needs_a_login(client, db):
    assert client.get("/account/tokens/").status_code == 302


def test_a_script_gets_a_token_with_its_password_and_a_bearer_header_works(db):
    user = make_user("bot")
    anon = APIClient()
    wrong = anon.post(
        "/api/v1/tokens/", {"name": "ci", "username": "bot", "password": "nope"}, format="json"
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "authentication_failed"
    made = anon.post(
        "/api/v1/tokens/", {"name": "ci", "username": "bot", "password": PASSWORD}, format="json"
    )
    assert made.status_code == 201
    key = made.json()["key"]
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    listed = bearer.get("/api/v1/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["ci"] and "key" not in listed[0]
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_anonymous_and_bad_tokens_get_401_with_the_error_shape(db):
    anon = APIClient().get("/api/v1/projects/")
    assert anon.status_code == 401
    assert anon["WWW-Authenticate"] == "Token"
    assert anon.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert bad.get("/api/v1/projects/").json()["code"] == "authentication_failed"


def test_token_creation_is_throttled(db, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"write": "100/min", "token": "3/min"},
    }
    make_user("guesser")
    anon = APIClient()
    codes = [
        anon.post(
            "/api/v1/tokens/", {"name": "x", "username": "guesser", "password": "no"}, format="json"
        ).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]


def test_writes_are_throttled_per_user_and_reads_are_not(world, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"write": "2/min", "token": "10/min"},
    }
    lead = client_for(world.users["lead"])
    url = f"/api/v1/projects/{world.a.slug}/"
    codes = [lead.patch(url, {"guidelines": f"v{n}"}, format="json").status_code for n in range(3)]
    assert codes == [200, 200, 429]
    throttled = lead.patch(url, {"guidelines": "v9"}, format="json")
    assert throttled.json()["code"] == "throttled" and "Retry-After" in throttled
    assert lead.get(url).status_code == 200
    other = client_for(world.users["researcher"])
    assert (
        other.post(f"/api/v1/projects/{world.a.slug}/exports/", {}, format="json").status_code
        == 201
    )


def test_an_unknown_api_path_is_a_json_404(db):
    for url in ("/api/v1/nope/", "/api/v1/projects/x/exports/%C2%84/", "/api/v1/tokens/abc/"):
        response = APIClient().get(url)
        assert response.status_code == 404, url
        assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_changing_the_mode_of_a_project_with_items_is_a_400(world):
    # Found by schemathesis: the service's ValidationError once became a 500.
    response = client_for(world.users["lead"]).patch(
        f"/api/v1/projects/{world.a.slug}/", {"mode": "ranking"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "mode": ["The mode cannot change once the project has items."]
    }
