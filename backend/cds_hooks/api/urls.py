from django.urls import path

from . import views

urlpatterns = [
    path("cds-services", views.DiscoveryView.as_view(), name="cds-discovery"),
    path("cds-services/<slug:service_id>", views.ServiceView.as_view(), name="cds-service"),
    path("cds-services/<slug:service_id>/feedback", views.FeedbackView.as_view(), name="cds-feedback"),
]
