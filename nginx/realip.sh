#!/bin/sh
# Writes the real_ip include (OUT; default where docker.conf reads it) from the environment:
#   CDSS_TRUSTED_PROXIES  addresses or CIDR ranges of a proxy or CDN in front of nginx, separated by commas
#                         or spaces. Empty (the default): nobody is trusted, the peer is the client.
#   CDSS_REAL_IP_HEADER   the header such a proxy puts the client's address in (default X-Forwarded-For).
# Only a connection from a trusted range may name the client; the address nginx then takes is what rate
# limits count and what Django logs and audits (X-Real-IP, cdss-proxy.conf). The nginx image runs this at
# start (/docker-entrypoint.d/); the local run's render_nginx (scripts/_app.sh) too.
set -eu
set -f  # the ranges are words, never file patterns
out=${1:-/etc/nginx/cdss/realip.conf}
trap 'rm -f "$out.tmp"' EXIT  # a refused value leaves the previous include as it was
proxies=$(printf '%s' "${CDSS_TRUSTED_PROXIES:-}" | tr ',' ' ')
header=${CDSS_REAL_IP_HEADER:-X-Forwarded-For}
case $header in
  '' | *[!A-Za-z0-9-]*) echo "CDSS_REAL_IP_HEADER is not a header name: '$header'" >&2; exit 1 ;;
esac
{
  echo "# Written by nginx/realip.sh from CDSS_TRUSTED_PROXIES; change that setting, not this file."
  for range in $proxies; do
    case $range in
      *[!0-9A-Fa-f.:/]*) echo "CDSS_TRUSTED_PROXIES: not an address or range: '$range'" >&2; exit 1 ;;
    esac
    echo "set_real_ip_from $range;"
  done
  if [ -n "$(echo $proxies)" ]; then
    echo "real_ip_header $header;"
    echo "real_ip_recursive on;  # the last address not itself trusted, so a client cannot prepend one"
  fi
} >"$out.tmp"
mv "$out.tmp" "$out"
