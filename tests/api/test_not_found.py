"""Every unknown path under /api/v1/ answers with the JSON error body, even odd ones."""

import pytest


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope/",
        "/api/v1/projects/x/exports/%0Aabc/files/y",
        "/api/v1/projects/x/exports/1/files/%0F%C2%BA%22%0C",
    ],
)
def test_unknown_api_paths_answer_json_404(client, db, path):
    response = client.get(path)
    assert response.status_code in (401, 404)
    assert response["Content-Type"].startswith("application/json")
