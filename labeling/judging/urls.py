from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<slug:slug>/work/", views.work_next, name="work_next"),
    path("p/<slug:slug>/guidelines/", views.guidelines, name="project_guidelines"),
    path("a/<uuid:code>/", views.assignment_page, name="assignment"),
    path("a/<uuid:code>/submit/", views.submit, name="assignment_submit"),
    path("a/<uuid:code>/skip/", views.skip, name="assignment_skip"),
    path("a/<uuid:code>/reveal/<int:candidate_id>/", views.reveal, name="assignment_reveal"),
    path("p/<slug:slug>/notice/", views.notice, name="project_notice"),
]
