"""fast_reverse gives exactly what reverse gives."""

import uuid

import pytest
from django.urls import reverse, set_script_prefix

from labeling.core.links import fast_reverse

CODE = uuid.UUID("0b7e6c2a-3f5d-4c1e-9a8b-7d6e5f4c3b2a")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("assignment", [CODE]),
        ("assignment_submit", [CODE]),
        ("assignment_reveal", [CODE, 7]),
        ("assignment_reveal", [CODE, 987_654_321]),  # the template's own sample value
        ("work_next", ["a-project-slug"]),  # not a code or an id: plain reverse
        ("home", []),
    ],
)
def test_fast_reverse_equals_reverse(name, args):
    assert fast_reverse(name, *args) == reverse(name, args=args)


def test_a_script_prefix_is_kept():
    set_script_prefix("/labeling/")
    try:
        assert fast_reverse("assignment", CODE) == f"/labeling/a/{CODE}/"
        assert fast_reverse("assignment", CODE) == reverse("assignment", args=[CODE])
    finally:
        set_script_prefix("/")
    assert fast_reverse("assignment", CODE) == f"/a/{CODE}/"
