from django.contrib import admin
from django.urls import include, path

from labeling.accounts.views import ThrottledLoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("labeling.accounts.urls")),
    path("", include("labeling.privacy.urls")),
    path("", include("labeling.judging.urls")),
    path("", include("labeling.projects.urls")),
    path("", include("labeling.projects.import_urls")),
    path("", include("labeling.generation.urls")),
    path("", include("labeling.datasets.urls")),
    path("", include("labeling.redteam.urls")),
    path("", include("labeling.judging.dashboard_urls")),
    path("", include("labeling.api.page_urls")),
    path("api/v1/", include("labeling.api.urls")),
]
