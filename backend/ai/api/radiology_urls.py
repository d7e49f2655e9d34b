"""AI-app routes under /api/radiology/ (radiology cannot import ai, so cdss.urls includes these beside
radiology's): measurements saved as a DICOM SR that the ai-server builds."""

from django.urls import path

from . import views

urlpatterns = [
    path("studies/<int:pk>/measurements", views.StudyMeasurementsView.as_view(), name="radiology-study-measurements"),
]
