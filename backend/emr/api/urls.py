from django.urls import path

from . import views

urlpatterns = [
    path("patients", views.PatientListView.as_view(), name="patient-list"),
    path("patients/<str:puuid>", views.PatientDetailView.as_view(), name="patient-detail"),
    path("patients/<str:puuid>/timeline", views.PatientTimelineView.as_view(), name="patient-timeline"),
    *(
        path(
            f"patients/<str:puuid>/{section}",
            views.PatientSectionView.as_view(section=section),
            name=f"patient-{section}",
        )
        for section in views.SECTIONS
    ),
]
