from django.urls import path

from . import import_views

urlpatterns = [
    path("p/<slug:slug>/import/", import_views.import_page, name="project_import"),
]
