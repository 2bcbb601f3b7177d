from django.urls import path

from . import views

urlpatterns = [
    path("p/<slug:slug>/exports/", views.export_list, name="export_list"),
    path("p/<slug:slug>/exports/new/", views.export_new, name="export_new"),
    path("p/<slug:slug>/exports/compare/", views.export_compare, name="export_compare"),
    path("p/<slug:slug>/exports/v<int:version>/", views.export_detail, name="export_detail"),
    path(
        "p/<slug:slug>/exports/v<int:version>/restart/",
        views.export_restart,
        name="export_restart",
    ),
    path(
        "p/<slug:slug>/exports/v<int:version>/archive/",
        views.export_archive,
        name="export_archive",
    ),
    path(
        "p/<slug:slug>/exports/v<int:version>/files/<path:name>",
        views.export_download,
        name="export_download",
    ),
]
