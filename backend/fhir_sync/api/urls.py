"""/api/fhir/... (included by cdss/urls.py). No trailing slashes, as the rest of the API."""

from django.urls import path

from . import views

urlpatterns = [
    path("sync", views.SyncRequestView.as_view(), name="fhir-sync-request"),
    path("dead-letters", views.DeadLetterListView.as_view(), name="fhir-dead-letter-list"),
    path("dead-letters/replay", views.DeadLetterReplayManyView.as_view(), name="fhir-dead-letter-replay-many"),
    path("dead-letters/<int:pk>", views.DeadLetterDetailView.as_view(), name="fhir-dead-letter-detail"),
    path("dead-letters/<int:pk>/replay", views.DeadLetterReplayView.as_view(), name="fhir-dead-letter-replay"),
    path("dead-letters/<int:pk>/discard", views.DeadLetterDiscardView.as_view(), name="fhir-dead-letter-discard"),
    path("mappings", views.MappingListView.as_view(), name="fhir-mapping-list"),
]
