#!/usr/bin/env bash
# `make test`: start the servers the tests need, then run the suites in parallel against them.
#   scripts/test.sh                 every suite
#   scripts/test.sh backend e2e     some of them (backend, standins, ai-server, react, e2e, deploy, lint)
# Exits non-zero when any suite fails; each suite's full output is in var/log/test-<suite>.log, with its
# slowest tests listed (pytest --durations): the whole must stay under 15 minutes on a 2-core machine.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_app.sh"

SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(backend standins ai-server react e2e deploy lint)

"$ROOT/scripts/env.sh"
# The PACS and the stack that make test starts for itself (a running `make run` is used as it is) notice a
# study sent by C-STORE within seconds rather than 25 s (docs/radiology.md, "Studies sent straight to the
# PACS"): the end-to-end tests that wait for the change feed wait less. .env may set other values.
export ORTHANC_STABLE_AGE="${ORTHANC_STABLE_AGE:-3}" RADIOLOGY_CHANGES_SECONDS="${RADIOLOGY_CHANGES_SECONDS:-5}"
"$ROOT/scripts/services.sh" up

suite_backend()  { cd "$ROOT/backend" && .venv/bin/pytest -p no:cacheprovider --durations=15; }
# The stand-ins' own tests (standins/pytest.ini): plain HTTP servers, no Django; the backend's virtualenv.
suite_standins() { cd "$ROOT" && backend/.venv/bin/pytest -p no:cacheprovider -c standins/pytest.ini standins; }
suite_ai-server() { cd "$ROOT/ai-server" && .venv/bin/pytest -p no:cacheprovider --durations=10; }
# The react suite checks that the production build succeeds and keeps its size budget (react/scripts/budget.mjs),
# in a directory of its own: the e2e suite, running beside it, is served react/dist.
suite_react() {
  local out; out="$(mktemp -d)"
  trap "rm -rf '$out'" EXIT  # each suite runs in a subshell of its own
  cd "$ROOT/react" && npx tsc --noEmit && npx vitest run && build_web_ui "$out" && node scripts/budget.mjs "$out"
}
suite_deploy()   { "$ROOT/scripts/check-deploy-config.sh"; }
suite_lint() {
  cd "$ROOT" && backend/.venv/bin/ruff check . && backend/.venv/bin/ruff format --check . \
    && (cd backend && PYTHONPATH=.. .venv/bin/lint-imports) \
    && (cd backend && DJANGO_SETTINGS_MODULE=cdss.settings.test .venv/bin/python manage.py makemigrations --check --dry-run) \
    && schema_in_step && licences
}

# Each service's third-party licence list (var/licences/), and no GPL/AGPL package in a running service.
licences() {
  backend/.venv/bin/python scripts/licences.py backend/requirements.txt "$VAR/licences/backend.md" \
    && ai-server/.venv/bin/python scripts/licences.py ai-server/requirements.txt "$VAR/licences/ai-server.md"
}

# The committed OpenAPI schema (and the web UI's types generated from it) match the code: `make schema`.
schema_in_step() {
  local fresh; fresh="$(mktemp)"
  (cd "$ROOT/backend" && DJANGO_SETTINGS_MODULE=cdss.settings.test .venv/bin/python manage.py spectacular --file "$fresh") \
    && diff -q "$fresh" "$ROOT/backend/openapi.yaml" >/dev/null \
    || { rm -f "$fresh"; echo "backend/openapi.yaml is out of date: run make schema"; return 1; }
  rm -f "$fresh"
}
suite_e2e() {
  # Shares one stack with `make run`: reuses running application processes, otherwise starts them and
  # stops them after (only them: the servers stay up for the other suites still running).
  local started=""
  pid_alive "$RUN/supervisord.pid" || started=yes
  "$ROOT/scripts/run.sh"
  local rc=0
  (cd "$ROOT" && backend/.venv/bin/pytest -p no:cacheprovider --durations=15 -c e2e/pytest.ini e2e) || { rc=$?; "$ROOT/scripts/ctl.sh" status; tail -n 20 "$LOG"/supervisord.log; }
  if [ -n "$started" ]; then stop_app; fi
  return $rc
}

declare -A pids
started_at=$SECONDS
for suite in "${SUITES[@]}"; do
  declare -F "suite_$suite" >/dev/null || die "unknown suite '$suite' (backend, standins, ai-server, react, e2e, deploy, lint)"
  say "suite $suite: started (log: var/log/test-$suite.log)"
  ( "suite_$suite" ) >"$LOG/test-$suite.log" 2>&1 &
  pids[$suite]=$!
done

failed=()
for suite in "${SUITES[@]}"; do
  rc=0; wait "${pids[$suite]}" || rc=$?
  printf '\n\033[1m----- %s (exit %s) -----\033[0m\n' "$suite" "$rc"
  tail -n 40 "$LOG/test-$suite.log"
  [ $rc -eq 0 ] || failed+=("$suite")
done

echo
if [ ${#failed[@]} -gt 0 ]; then
  # The failing tests again, last: a CI log that keeps only the end of the output still names them.
  for suite in "${failed[@]}"; do
    grep -E '^(FAILED|ERROR) |^error TS|FAIL ' "$LOG/test-$suite.log" | head -n 20 | sed "s/^/$suite: /" || true
  done
  die "FAILED suites: ${failed[*]} ($((SECONDS - started_at)) s). Full logs: var/log/test-<suite>.log"
fi
say "all suites passed: ${SUITES[*]} ($((SECONDS - started_at)) s)"
