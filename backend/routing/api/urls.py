from django.urls import path

from . import views

urlpatterns = [
    path("rules", views.RuleListCreateView.as_view(), name="routing-rule-list"),
    path("rules/dry-run", views.UnsavedRuleDryRunView.as_view(), name="routing-rule-dry-run-unsaved"),
    path("rules/<int:pk>", views.RuleDetailView.as_view(), name="routing-rule-detail"),
    path("rules/<int:pk>/versions", views.RuleVersionsView.as_view(), name="routing-rule-versions"),
    path("rules/<int:pk>/dry-run", views.RuleDryRunView.as_view(), name="routing-rule-dry-run"),
]
