"""AI routes under /api/patients/<puuid>/ (the emr app's URL space; emr cannot import ai, so cdss.urls
includes these beside emr's)."""

from django.urls import path

from . import views

urlpatterns = [
    path("patients/<str:puuid>/tumour-course", views.TumourCourseView.as_view(), name="patient-tumour-course"),
]
