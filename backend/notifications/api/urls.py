from django.urls import path

from . import views

urlpatterns = [path("webhook", views.AlertWebhookView.as_view(), name="alerts-webhook")]
