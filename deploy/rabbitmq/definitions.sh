#!/bin/sh
# Prints the RabbitMQ definitions (JSON) of the CDSS's accounts for compose: the owner (RABBITMQ_URL: all
# rights on its vhost, declares the topology) and one account per process kind from the table in
# accounts.sh, the same the local run applies with rabbitmqctl (docs/security.md, "Broker accounts").
# The broker service of docker-compose.yml runs it at every start into a tmpfs file that
# `load_definitions` (rabbitmq.conf) imports at boot: accounts are created, and passwords and rights
# follow .env after a restart. Users, passwords and vhosts come from the URL variables; nothing secret is
# written to the repository or to the broker's data volume.
#
#   RABBITMQ_URL=amqp://cdss:…@rabbitmq:5672/cdss WEB_RABBITMQ_URL=… … deploy/rabbitmq/definitions.sh
set -eu
. "$(dirname "$0")/accounts.sh"

json() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }
# amqp://user:password@host:port/vhost (the values scripts/env.sh generates need no %-decoding)
url_user() { rest=${1#*://}; rest=${rest%%@*}; printf '%s' "${rest%%:*}"; }
url_password() { rest=${1#*://}; rest=${rest%%@*}; printf '%s' "${rest#*:}"; }
url_vhost() { printf '%s' "${1##*/}"; }

: "${RABBITMQ_URL:?the owner account's URL}"
owner=$RABBITMQ_URL vhost=$(url_vhost "$RABBITMQ_URL")
users="{\"name\": $(json "$(url_user "$owner")"), \"password\": $(json "$(url_password "$owner")"), \"tags\": []}"
permissions="{\"user\": $(json "$(url_user "$owner")"), \"vhost\": $(json "$vhost"), \"configure\": \".*\", \"write\": \".*\", \"read\": \".*\"}"
topic_permissions=""
table=$(broker_accounts)
while read -r var configure write read topic_keys dlx_keys bind_keys; do
  eval "url=\${$var:?$var is not set}"
  user=$(url_user "$url")
  [ "$(url_vhost "$url")" = "$vhost" ] || { echo "$var: vhost differs from RABBITMQ_URL's" >&2; exit 1; }
  users="$users,
    {\"name\": $(json "$user"), \"password\": $(json "$(url_password "$url")"), \"tags\": []}"
  permissions="$permissions,
    {\"user\": $(json "$user"), \"vhost\": $(json "$vhost"), \"configure\": $(json "$(broker_names "$configure")"), \"write\": $(json "$(broker_names "$write")"), \"read\": $(json "$(broker_names "$read")")}"
  for exchange in cdss.topic cdss.dlx; do
    if [ "$exchange" = cdss.topic ]; then keys=$topic_keys; else keys=$dlx_keys; fi
    topic_permissions="$topic_permissions${topic_permissions:+,}
    {\"user\": $(json "$user"), \"vhost\": $(json "$vhost"), \"exchange\": \"$exchange\", \"write\": $(json "$(broker_names "$keys")"), \"read\": $(json "$(broker_names "$bind_keys")")}"
  done
done <<EOF
$table
EOF

cat <<EOF
{
  "vhosts": [{"name": $(json "$vhost")}],
  "users": [
    $users
  ],
  "permissions": [
    $permissions
  ],
  "topic_permissions": [$topic_permissions
  ]
}
EOF
