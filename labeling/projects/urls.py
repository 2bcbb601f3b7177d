from django.urls import path

from . import views

urlpatterns = [
    path("projects/new/", views.project_new, name="project_new"),
    path("p/<slug:slug>/", views.project_overview, name="project_overview"),
    path("p/<slug:slug>/settings/", views.project_settings, name="project_settings"),
    path("p/<slug:slug>/members/", views.project_members, name="project_members"),
    path(
        "p/<slug:slug>/members/<int:pk>/role/",
        views.project_member_role,
        name="project_member_role",
    ),
    path(
        "p/<slug:slug>/members/<int:pk>/remove/",
        views.project_member_remove,
        name="project_member_remove",
    ),
]
