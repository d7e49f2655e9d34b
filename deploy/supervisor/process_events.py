"""supervisord event listener: makes restarts and crash-loops of the local run's processes visible.

supervisord runs it ([eventlistener:process-events] in supervisord.conf.template) and sends it every
PROCESS_STATE event. It writes, into the multiprocess folder that Django's /metrics reads (so Prometheus'
`django` job scrapes them with no target of its own):

    cdss_process_restarts_total{process, event}   event="exited": the process ended while running (a
                                                  crash, a signal, the OOM killer) and supervisord starts it
                                                  again; event="start_failed": it died within startsecs
    cdss_process_gave_up{process}                 1 once supervisord stopped retrying (FATAL), 0 when the
                                                  process is starting or running again

The alerts ProcessCrashLooping and ProcessGaveUp (monitoring/rules/cdss-alerts.yml) read them.
A stop through supervisorctl (make stop, a deploy) is STOPPING/STOPPED, never counted here.
The protocol: write READY, read one header line and the payload it announces, answer RESULT 2 OK.
"""

import sys

from prometheus_client import Counter, Gauge

RESTARTS = Counter(
    "cdss_process_restarts_total", "Exits and failed starts of a supervised process", ["process", "event"]
)
GAVE_UP = Gauge(
    "cdss_process_gave_up",
    "1 when supervisord gave up restarting the process",
    ["process"],
    multiprocess_mode="mostrecent",  # one writer: this listener
)
COUNTED = {"PROCESS_STATE_EXITED": "exited", "PROCESS_STATE_BACKOFF": "start_failed"}


def fields(line: str) -> dict[str, str]:
    return dict(token.split(":", 1) for token in line.split())


def record(event: str, payload: dict[str, str]) -> None:
    process = payload["processname"]
    if event == "PROCESS_STATE_STARTING":
        for kind in COUNTED.values():  # the series exist at 0 before the first crash, so increase() sees it
            RESTARTS.labels(process, kind).inc(0)
    if event in COUNTED:
        RESTARTS.labels(process, COUNTED[event]).inc()
    if event == "PROCESS_STATE_FATAL":
        GAVE_UP.labels(process).set(1)
    elif event in ("PROCESS_STATE_STARTING", "PROCESS_STATE_RUNNING"):
        GAVE_UP.labels(process).set(0)


def main(stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr) -> None:
    while True:
        stdout.write("READY\n")
        stdout.flush()
        line = stdin.readline()
        if not line:
            return  # supervisord closed the pipe: it is shutting down
        header = fields(line)
        payload = fields(stdin.read(int(header["len"])).split("\n", 1)[0])
        try:
            record(header["eventname"], payload)
        except Exception as error:  # a metric that cannot be written must not stall supervisord's events
            print(f"process-events: {header.get('eventname')} {payload}: {error!r}", file=stderr, flush=True)
        stdout.write("RESULT 2\nOK")
        stdout.flush()


if __name__ == "__main__":
    main()
