#!/usr/bin/env bash
# `make stop`: stop what `make run` started, by pid file (machine-wide MariaDB/Redis/RabbitMQ stay up):
# supervisord with every process it runs (both application colours included) and the servers of
# services.sh.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_app.sh"

stop_app
"$ROOT/scripts/services.sh" down
