"""The lead's pages: endpoints (rules, connection test) and jobs (form, progress, actions)."""

import pytest
from django.urls import reverse

from labeling.generation import services
from labeling.generation.models import GenerationJob, ModelEndpoint

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db


def endpoint_data(**extra) -> dict:
    data = {
        "name": "Local vLLM",
        "kind": "openai",
        "base_url": "http://127.0.0.1:8000/v1",
        "model": "qwen",
        "api_key_env": "",
        "system_prompt": "",
        "temperature": "0.7",
        "top_p": "0.95",
        "max_tokens": "128",
        "supports_seed": "on",
        "timeout_seconds": "30",
        "max_concurrency": "8",
    }
    data.update(extra)
    return data


def test_a_lead_registers_an_endpoint(client, lead, project):
    client.force_login(lead)
    url = reverse("generation_endpoint_new", args=[project.slug])
    response = client.post(url, endpoint_data(api_key_env="MODEL_KEY_VLLM"))
    assert response.status_code == 303
    endpoint = ModelEndpoint.objects.get(project=project)
    assert (endpoint.model, endpoint.api_key_env, endpoint.max_concurrency) == (
        "qwen",
        "MODEL_KEY_VLLM",
        8,
    )
    page = client.get(reverse("generation_endpoints", args=[project.slug])).content.decode()
    assert "Local vLLM" in page and "MODEL_KEY_VLLM" in page


@pytest.mark.parametrize(
    "name", ["SECRET_KEY", "DATABASE_URL", "MODEL_KEY_", "model_key_x", "MODEL_KEY_A B"]
)
def test_only_key_variables_with_the_prefix_are_accepted(client, lead, project, name):
    client.force_login(lead)
    response = client.post(
        reverse("generation_endpoint_new", args=[project.slug]), endpoint_data(api_key_env=name)
    )
    assert response.status_code == 400
    assert "MODEL_KEY_SOMETHING" in response.content.decode()
    assert not ModelEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5:8000/v1",
        "http://evil.example.com/v1",
        "ftp://127.0.0.1/v1",
        "http://user:pw@127.0.0.1/v1",
    ],
)
def test_base_urls_are_limited_to_allowed_hosts(client, lead, project, url):
    client.force_login(lead)
    response = client.post(
        reverse("generation_endpoint_new", args=[project.slug]), endpoint_data(base_url=url)
    )
    assert response.status_code == 400
    assert not ModelEndpoint.objects.exists()


def test_an_admin_can_allow_more_hosts(client, lead, project, settings):
    settings.MODEL_ALLOWED_HOSTS = ["*.internal.example"]
    client.force_login(lead)
    url = reverse("generation_endpoint_new", args=[project.slug])
    assert (
        client.post(url, endpoint_data(base_url="http://gpu1.internal.example/v1")).status_code
        == 303
    )
    assert client.post(url, endpoint_data(base_url="http://127.0.0.1/v1")).status_code == 400


def test_endpoint_and_job_pages_are_404_for_anyone_but_a_lead(client, trainer, researcher, project):
    for user in (trainer, researcher):
        client.force_login(user)
        for name in ("generation_endpoints", "generation_jobs", "generation_job_new"):
            assert client.get(reverse(name, args=[project.slug])).status_code == 404


def test_test_connection_shows_the_answer(client, lead, project, fault_server):
    endpoint = make_endpoint(project, base_url=fault_server.url, model="ok")
    client.force_login(lead)
    url = reverse("generation_endpoint_test", args=[project.slug, endpoint.pk])
    response = client.post(url, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "Answered" in html and "ok-served" in html
    assert "<html" not in html  # the fragment only


def test_test_connection_shows_the_error_with_the_key_scrubbed(
    client, lead, project, fault_server, api_key
):
    endpoint = make_endpoint(
        project, base_url=fault_server.url, model="unauthorized", api_key_env="MODEL_KEY_TEST"
    )
    client.force_login(lead)
    url = reverse("generation_endpoint_test", args=[project.slug, endpoint.pk])
    html = client.post(url).content.decode()
    assert "Failed" in html and "HTTP 401" in html and "Incorrect API key provided" in html
    assert api_key not in html and api_key[:12] not in html
    assert fault_server.requests_for("unauthorized")  # the key was really sent


def test_a_lead_starts_a_job_from_the_form(
    client, lead, project, fault_server, django_capture_on_commit_callbacks
):
    from labeling.projects.models import Prompt

    Prompt.objects.create(project=project, messages=[{"role": "user", "content": "hi"}])
    a = make_endpoint(project, name="A", base_url=fault_server.url, model="ok")
    b = make_endpoint(project, name="B", base_url=fault_server.url, model="ok")
    client.force_login(lead)
    form = client.get(reverse("generation_job_new", args=[project.slug])).content.decode()
    assert "Which prompts" in form and "One K-way item" not in form  # pairwise project
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("generation_job_new", args=[project.slug]),
            {
                "selection": "without_candidates",
                "endpoints": [a.pk, b.pk],
                "samples_per_endpoint": "2",
                "temperatures": "0.2, 1.0",
                "max_tokens": "16",
                "pairing": "model_pairs",
                "pairs_per_prompt": "1",
            },
        )
    assert response.status_code == 303
    job = GenerationJob.objects.get()
    assert response["Location"] == reverse("generation_job", args=[project.slug, job.pk])
    assert job.units_total == 8 and job.pairing == "model_pairs"
    assert {u.params["max_tokens"] for u in job.units.all()} == {16}
    assert len(callbacks) == 1  # the units are enqueued after the commit


def test_the_job_page_polls_until_the_job_is_final(client, lead, project, fault_server):
    from labeling.projects.models import Prompt

    Prompt.objects.create(project=project, messages=[{"role": "user", "content": "hi"}])
    a = make_endpoint(project, base_url=fault_server.url, model="ok")
    job = services.start_generation_job(project=project, by=lead, endpoints=[a], enqueue=False)
    client.force_login(lead)
    url = reverse("generation_job", args=[project.slug, job.pk])
    html = client.get(url).content.decode()
    assert 'hx-trigger="load delay:1s' in html and "0 / 1" in html
    services.execute_unit(unit_id=job.units.get().pk, max_attempts=3)
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "1 / 1" in fragment and "hx-trigger" not in fragment and "<html" not in fragment


def test_cancel_and_retry_buttons_post_to_services(client, lead, project, fault_server):
    from labeling.projects.models import Prompt

    Prompt.objects.create(project=project, messages=[{"role": "user", "content": "hi"}])
    a = make_endpoint(project, base_url=fault_server.url, model="no-such-model")
    job = services.start_generation_job(project=project, by=lead, endpoints=[a], enqueue=False)
    services.execute_unit(unit_id=job.units.get().pk, max_attempts=3)
    client.force_login(lead)
    page = client.get(reverse("generation_job", args=[project.slug, job.pk])).content.decode()
    assert "Retry 1 failed" in page and "does not exist" in page
    response = client.post(reverse("generation_job_retry", args=[project.slug, job.pk]))
    assert response.status_code == 303
    assert job.units.get().status == "queued"
    client.post(reverse("generation_job_cancel", args=[project.slug, job.pk]))
    assert job.units.get().status == "cancelled"
