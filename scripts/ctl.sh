#!/usr/bin/env bash
# supervisorctl for the local run (`make status` shows `scripts/ctl.sh status`):
#
#   scripts/ctl.sh status              every process: state, pid, uptime (the idle colour shows STOPPED)
#   scripts/ctl.sh restart worker      one process (names: scripts/process.sh; a colour: blue:*)
#   scripts/ctl.sh tail -f ai-worker   its log
#
# supervisorctl answers 3 to `status` when any program is not RUNNING, which the stopped colour always
# is; here `status` fails only when supervisord itself does not run.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_app.sh"

supervisor_running || die "supervisord is not running (make run starts it)"
if [ "${1:-}" = status ]; then
  ctl "$@" || [ $? -eq 3 ]
else
  ctl "$@"
fi
