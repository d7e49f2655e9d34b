"""Small helpers for the read side of every app."""

from typing import Any

from django.db.models import QuerySet


def narrowed(queryset: QuerySet, **lookups: Any) -> QuerySet:
    """`queryset` filtered by each lookup whose value was given: None, "" and False mean "any"."""
    return queryset.filter(**{lookup: value for lookup, value in lookups.items() if value not in (None, "", False)})
