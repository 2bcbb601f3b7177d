from django.urls import path

from . import views

urlpatterns = [path("account/wellbeing/", views.wellbeing, name="wellbeing")]
