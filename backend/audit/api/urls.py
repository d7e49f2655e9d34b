from django.urls import path

from . import views

urlpatterns = [
    path("events", views.EventListView.as_view(), name="audit-events"),
    path("events.csv", views.EventExportView.as_view(), name="audit-events-csv"),
]
