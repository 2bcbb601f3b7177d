"""The lead's pages: dashboard, queues and trainers, settings, items and gold, review."""

from django.urls import path

from . import lead_views as v

urlpatterns = [
    path("p/<slug:slug>/dashboard/", v.dashboard_page, name="lead_dashboard"),
    path("p/<slug:slug>/requeue-outdated/", v.requeue_outdated, name="lead_requeue_outdated"),
    path("p/<slug:slug>/queues/", v.queues_page, name="lead_queues"),
    path("p/<slug:slug>/queues/new/", v.queue_new, name="lead_queue_new"),
    path("p/<slug:slug>/queues/settings/", v.queue_settings, name="lead_queue_settings"),
    path("p/<slug:slug>/queues/<int:pk>/", v.queue_update, name="lead_queue_update"),
    path("p/<slug:slug>/queues/<int:pk>/pause/", v.queue_pause, name="lead_queue_pause"),
    path("p/<slug:slug>/trainers/<int:pk>/", v.trainer_update, name="lead_trainer_update"),
    path(
        "p/<slug:slug>/trainers/<int:pk>/release/", v.trainer_release, name="lead_trainer_release"
    ),
    path("p/<slug:slug>/items/", v.items_page, name="lead_items"),
    path("p/<slug:slug>/items/<int:pk>/", v.item_page, name="lead_item"),
    path("p/<slug:slug>/items/<int:pk>/gold/", v.item_gold, name="lead_item_gold"),
    path(
        "p/<slug:slug>/items/<int:pk>/personal-data/",
        v.item_personal_data,
        name="lead_item_personal_data",
    ),
    path("p/<slug:slug>/judgments/", v.judgments_page, name="lead_judgments"),
    path("p/<slug:slug>/judgments/<int:pk>/", v.judgment_page, name="lead_judgment"),
    path(
        "p/<slug:slug>/judgments/<int:pk>/review/", v.judgment_review, name="lead_judgment_review"
    ),
]
