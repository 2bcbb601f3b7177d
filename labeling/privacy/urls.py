from django.urls import path

from . import views

urlpatterns = [
    path("p/<slug:slug>/privacy/", views.privacy_page, name="project_privacy"),
    path("account/erase/", views.erase_me, name="erase_me"),
]
