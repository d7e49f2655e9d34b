#!/usr/bin/env bash
# `make stop`: stop what `make run` started, by pid file (machine-wide MariaDB/Redis/RabbitMQ stay up).
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"

stop_process_tree "$RUN/honcho.pid" "application processes (honcho)"
"$ROOT/scripts/services.sh" down
