from django.urls import path

from . import views

P = "p/<slug:slug>/redteam/"

urlpatterns = [
    path(P, views.attack_list, name="redteam_attacks"),
    path(P + "notice/", views.notice, name="redteam_notice"),
    path(P + "new/", views.attack_new, name="redteam_attack_new"),
    path(P + "next/", views.judge_next, name="redteam_judge_next"),
    path(P + "attacks/<int:pk>/", views.attack_detail, name="redteam_attack"),
    path(
        P + "attacks/<int:pk>/reveal/<int:candidate_id>/",
        views.reveal,
        name="redteam_reveal",
    ),
    path(P + "generate/", views.generate, name="redteam_generate"),
    path(P + "stats/", views.stats, name="redteam_stats"),
    path(P + "promote/", views.promote, name="redteam_promote"),
    path(P + "exports/", views.exports, name="redteam_exports"),
    path(P + "exports/<int:version>/archive/", views.export_archive, name="redteam_export_archive"),
    path(
        P + "exports/<int:version>/files/<path:name>",
        views.export_file,
        name="redteam_export_file",
    ),
]
