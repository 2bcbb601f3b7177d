"""The app's URLs plus placeholders for the routes other apps will provide.

The project pages link to `home`, `work_next` and `project_import`; until those apps exist a
placeholder stands in for each missing name, and one that exists is used as it is.
"""

from django.http import HttpResponse
from django.urls import NoReverseMatch, path, reverse

from labeling.urls import urlpatterns as app_urlpatterns


def placeholder(request, slug: str = "") -> HttpResponse:
    return HttpResponse("placeholder")


def _missing(name: str, *args: str) -> bool:
    try:
        reverse(name, urlconf="labeling.urls", args=args)
    except NoReverseMatch:
        return True
    return False


PLACEHOLDERS = [
    ("home", path("", placeholder, name="home"), ()),
    ("work_next", path("p/<slug:slug>/work/next/", placeholder, name="work_next"), ("x",)),
    ("project_import", path("p/<slug:slug>/import/", placeholder, name="project_import"), ("x",)),
]

urlpatterns = [*app_urlpatterns] + [
    route for name, route, args in PLACEHOLDERS if _missing(name, *args)
]
