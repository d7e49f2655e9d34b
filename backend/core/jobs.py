"""The request id follows work into Celery: stamped on every task message at publish time and made
the current context while the task runs, so a job's logs, audit events and external calls carry the
id of the request that caused them."""

from celery.signals import before_task_publish, task_postrun, task_prerun

from core import context

HEADER = "x_request_id"
_tokens: dict[str, object] = {}


@before_task_publish.connect
def stamp_request_id(headers=None, **kwargs):
    if headers is not None and HEADER not in headers and (request_id := context.current().request_id):
        headers[HEADER] = request_id


@task_prerun.connect
def enter_request_context(task_id=None, task=None, **kwargs):
    request_id = getattr(task.request, HEADER, None) or context.accepted_request_id(None)
    _tokens[task_id] = context.activate(context.RequestContext(request_id=request_id))


@task_postrun.connect
def leave_request_context(task_id=None, **kwargs):
    if (token := _tokens.pop(task_id, None)) is not None:
        context.deactivate(token)
