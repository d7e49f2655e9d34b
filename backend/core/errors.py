"""The errors services and selectors raise, in the domain's words. They know nothing of HTTP: the API's
exception handler (acct.api.exceptions) is the one place that answers each with a status code, so every
app answers the same failure the same way (an invalid status change is always a 409).

A hospital system or object storage that fails raises core.http's ExternalSystemError family, a
DomainError too (e.g. SystemUnavailable: 503 naming the system); the database, Redis and RabbitMQ are
recognised from their own exceptions (core.outage), so services need not wrap them.
"""

from collections.abc import Collection, Mapping

from django.utils.translation import gettext as _


class DomainError(Exception):
    """`message` is for the person who asked; `code` is the stable name a client may branch on."""

    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    """What was sent cannot be used; `field` names the input it concerns, as a form would show it."""

    code = "validation_failed"

    def __init__(self, message: str, *, field: str = "non_field_errors"):
        super().__init__(message)
        self.field = field


class NotPermitted(DomainError):
    """The caller's role or relation to the record does not allow this (audited as a denial)."""

    code = "permission_denied"


class Conflict(DomainError):
    """The record is not in a state that allows this."""

    code = "conflict"


class InvalidTransition(Conflict):
    """A status change its lifecycle does not allow."""


class TooLarge(DomainError):
    code = "payload_too_large"


def check_transition(what: str, current: str, new: str, transitions: Mapping[str, Collection[str]]) -> None:
    """Refuse moving `what` from `current` to `new` unless `transitions` ({status: the statuses it may
    become}) lists the move. `what` names the record in the caller's (translated) words."""
    allowed = transitions.get(current, ())
    if new not in allowed:
        listed = ", ".join(sorted(allowed)) or _("none")
        raise InvalidTransition(
            _("%(what)s is %(current)s and cannot become %(new)s (allowed: %(listed)s)")
            % {"what": what, "current": current, "new": new, "listed": listed}
        )
