"""The site's URLs plus the API app's HTML pages (until labeling/urls.py includes them)."""

from django.urls import include, path

from labeling.urls import urlpatterns as site

urlpatterns = [*site, path("", include("labeling.api.page_urls"))]
