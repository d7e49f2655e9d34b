#!/bin/sh
# Writes the include (OUT; default where docker.conf reads it) through which nginx reaches Orthanc's DICOMweb
# for the retrievals it serves itself (cdss-locations.conf), from the environment Django reads too:
#   ORTHANC_URL                         Orthanc's address (http or https; a path is not allowed)
#   ORTHANC_USERNAME, ORTHANC_PASSWORD  the credentials nginx adds to each request; a browser never sees them
# The file holds the password: written readable by its owner only. The nginx image runs this at start
# (/docker-entrypoint.d/); the local run's render_nginx (scripts/_app.sh) too.
set -eu
out=${1:-/etc/nginx/cdss/orthanc.conf}
url=${ORTHANC_URL:?ORTHANC_URL is not set}
: "${ORTHANC_USERNAME:?ORTHANC_USERNAME is not set}" "${ORTHANC_PASSWORD:?ORTHANC_PASSWORD is not set}"
scheme=${url%%://*}
address=${url#*://}
address=${address%/}
case $scheme in http | https) ;; *) echo "ORTHANC_URL is not http(s)://host[:port]: '$url'" >&2; exit 1 ;; esac
case $address in '' | */* | *[!A-Za-z0-9.:\[\]-]*) echo "ORTHANC_URL is not http(s)://host[:port]: '$url'" >&2; exit 1 ;; esac
case $address in *:[0-9]* | \[*\]:[0-9]*) ;; *) [ "$scheme" = https ] && address=$address:443 || address=$address:80 ;; esac
basic=$(printf '%s:%s' "$ORTHANC_USERNAME" "$ORTHANC_PASSWORD" | base64 | tr -d '\n')
umask 077
trap 'rm -f "$out.tmp"' EXIT
{
  echo "# Written by nginx/orthanc.sh from ORTHANC_URL, ORTHANC_USERNAME and ORTHANC_PASSWORD; change those."
  echo "upstream orthanc_dicomweb { server $address; keepalive 32; }"
  echo "map \$request_method \$cdss_orthanc_scheme { default $scheme; }"
  echo "map \$request_method \$cdss_orthanc_authorization { default \"Basic $basic\"; }"
  if [ "$scheme" = https ]; then  # the PACS's certificate is checked against the system's authorities
    echo "proxy_ssl_server_name on;"
    echo "proxy_ssl_name ${address%:*};"
    echo "proxy_ssl_verify on;"
    echo "proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;"
  fi
} >"$out.tmp"
mv "$out.tmp" "$out"
