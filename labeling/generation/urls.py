from django.urls import path

from . import views

urlpatterns = [
    path("p/<slug:slug>/endpoints/", views.endpoint_list, name="generation_endpoints"),
    path("p/<slug:slug>/endpoints/new/", views.endpoint_new, name="generation_endpoint_new"),
    path(
        "p/<slug:slug>/endpoints/<int:pk>/edit/",
        views.endpoint_edit,
        name="generation_endpoint_edit",
    ),
    path(
        "p/<slug:slug>/endpoints/<int:pk>/test/",
        views.endpoint_test,
        name="generation_endpoint_test",
    ),
    path("p/<slug:slug>/moderation/", views.moderation_page, name="generation_moderation"),
    path(
        "p/<slug:slug>/moderation/screen/",
        views.moderation_screen_existing,
        name="generation_moderation_screen",
    ),
    path(
        "p/<slug:slug>/moderation/remove/",
        views.moderation_remove,
        name="generation_moderation_remove",
    ),
    path("p/<slug:slug>/generate/", views.job_list, name="generation_jobs"),
    path("p/<slug:slug>/generate/new/", views.job_new, name="generation_job_new"),
    path("p/<slug:slug>/generate/<int:pk>/", views.job_detail, name="generation_job"),
    path("p/<slug:slug>/generate/<int:pk>/cancel/", views.job_cancel, name="generation_job_cancel"),
    path(
        "p/<slug:slug>/generate/<int:pk>/retry/",
        views.job_retry_failed,
        name="generation_job_retry",
    ),
]
