"""Which dependency an unexpected exception means is down: the database, Redis or RabbitMQ.

Errors of the hospital systems (Orthanc, FHIR, EMR, object storage, ai-server) are raised as
core.http.ExternalSystemError by their clients. The platform's own servers fail inside Django, its
session and cache backends or the broker client, wherever a request touches them (authentication, the
session save after the view, a publish), so they are recognised here from the exception itself and
answered as 503 naming the dependency (core.api.errors.server_error), never as a 500.
"""

from django.db import InterfaceError
from django.db import OperationalError as DatabaseError

DATABASE, REDIS, RABBITMQ = "database", "redis", "rabbitmq"


def _redis_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import ConnectionError, TimeoutError

    return ConnectionError, TimeoutError


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError
    from pika.exceptions import AMQPConnectionError, ChannelClosedByBroker, ConnectionClosed, StreamLostError

    from core.messaging.publisher import PublishError

    return OperationalError, AMQPConnectionError, ConnectionClosed, StreamLostError, ChannelClosedByBroker, PublishError


def dependency_of(exc: BaseException | None) -> str | None:
    """The dependency whose outage `exc` (or an exception it was raised from) reports, else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DatabaseError | InterfaceError):
            return DATABASE
        if isinstance(exc, _redis_errors()):
            return REDIS
        if isinstance(exc, _broker_errors()):
            return RABBITMQ
        exc = exc.__cause__ or exc.__context__
    return None
