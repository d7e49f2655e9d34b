# shellcheck shell=sh
# The RabbitMQ account of each process kind (docs/security.md, "Broker accounts"), in one table that both
# the local run (scripts/services.sh, rabbitmqctl) and compose (deploy/rabbitmq/definitions.sh, a
# definitions file loaded at the broker's boot) apply. Source it; it changes nothing by itself.
#
# One line per account: its URL variable, then regular expressions on exchange and queue names for
# configure, write and read ("-": nothing), then the routing keys it may publish on cdss.topic and on
# cdss.dlx, and those it may bind with. Declaring a queue with a dead-letter exchange needs read on it,
# hence the ai-server's read on all three of its queues. So a compromised ai-server (it parses untrusted
# DICOM) cannot read Django's queues, publish a Celery task or a job; the web processes can publish,
# never consume; none but the owner (RABBITMQ_URL's account) can delete a queue of ours.
broker_accounts() {
  local celery celery_own ai ai_keys  # dash, busybox sh and bash all know `local`
  celery='default|fhir|ai'  # Celery's queues and their exchanges (cdss/celery.py)
  celery_own='celery_delayed_.*|(reply\.)?celery\.pidbox|.*\.celery\.pidbox|celeryev(\..*)?'  # a worker's own
  ai='cdss\.topic|cdss\.dlx|ai_(jobs|results|progress)(\.dlq)?' ai_keys='ai\.job\.(create|result|progress)'
  cat <<EOF
AI_RABBITMQ_URL      $ai          $ai                                        $ai                    ai\.job\.(result|progress)  -           $ai_keys
WEB_RABBITMQ_URL     -            cdss\.topic|$celery                        -                      ai\.job\.create             -           -
BEAT_RABBITMQ_URL    -            $celery                                    -                      -                           -           -
WORKER_RABBITMQ_URL  $celery_own  cdss\.topic|cdss\.dlx|$celery|$celery_own  $celery|$celery_own    ai\.job\.create             fhir\.sync  -
EVENTS_RABBITMQ_URL  -            cdss\.topic|$celery                        ai_(results|progress)  ai\.job\.create             -           -
EOF
}

# A table cell as RabbitMQ's pattern: "-" matches nothing; otherwise the whole name must match.
broker_names() { if [ "$1" = - ]; then printf '^$\n'; else printf '^(%s)$\n' "$1"; fi; }
