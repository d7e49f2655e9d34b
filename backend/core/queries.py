"""Small helpers for the read side of every app."""

from typing import Any

from django.db.models import QuerySet


def given(values: dict[str, Any]) -> dict[str, Any]:
    """The filters a caller gave: None, "" and False mean "any" and are left out."""
    return {name: value for name, value in values.items() if value not in (None, "", False)}


def narrowed(queryset: QuerySet, **lookups: Any) -> QuerySet:
    """`queryset` filtered by each lookup whose value was given."""
    return queryset.filter(**given(lookups))
