#!/usr/bin/env bash
# `make stop`: stop what `make run` started, by pid file (machine-wide MariaDB/Redis/RabbitMQ stay up):
# supervisord with every process it runs (both application colours included) and the servers of
# services.sh; and the hosts of scripts/netns.sh with their relay, should a test killed outright have
# left them.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_app.sh"

if [ -f "$RUN/netns-relay.pid" ] || [ -d "$VAR/netns" ]; then "$ROOT/scripts/netns.sh" down; fi
stop_app
"$ROOT/scripts/services.sh" down
