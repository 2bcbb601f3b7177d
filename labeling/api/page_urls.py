"""HTML pages of the API app, mounted at the site root: include("labeling.api.page_urls")."""

from django.urls import path

from . import pages

urlpatterns = [
    path("account/tokens/", pages.token_page, name="api_token_page"),
    path("account/tokens/<int:pk>/revoke/", pages.token_revoke, name="api_token_revoke"),
]
