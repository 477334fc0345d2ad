#!/bin/sh
# Stagecoach load balancer: HAProxy in front of the dispatchers.
#
# Environment:
#   HAPROXY_CFG              (required) the full haproxy.cfg content (see src/topology/haproxy-config.ts renderHaproxyConfig)
#   HAPROXY_RUNTIME_API_PEM  (required) the runtime API's TLS certificate and key, and
#   HAPROXY_RUNTIME_API_CA   (required) the CA its clients' certificates must chain to: Stagecoach derives both per
#                            environment (src/activities/runtime-api-credentials.ts); written to files HAProxy reads,
#                            then removed from the environment HAProxy runs with
#
# Arguments: none -> validate then run haproxy in the foreground (master-worker, -db);
#            `validate` -> only validate the configuration, exit 0/1.
set -eu

CFG=/etc/haproxy/haproxy.cfg

if [ -z "${HAPROXY_CFG:-}" ]; then
  echo "loadbalancer: HAPROXY_CFG is required (full haproxy.cfg content)" >&2
  exit 1
fi
printf '%s\n' "$HAPROXY_CFG" > "$CFG"

RUNTIME_API_DIR=/etc/haproxy/runtime-api
if [ -z "${HAPROXY_RUNTIME_API_PEM:-}" ] || [ -z "${HAPROXY_RUNTIME_API_CA:-}" ]; then
  echo "loadbalancer: HAPROXY_RUNTIME_API_PEM and HAPROXY_RUNTIME_API_CA are required (the runtime API's TLS credentials)" >&2
  exit 1
fi
(umask 077 && mkdir -p "$RUNTIME_API_DIR" /run/haproxy \
  && printf '%s\n' "$HAPROXY_RUNTIME_API_PEM" > "$RUNTIME_API_DIR/server.pem" \
  && printf '%s\n' "$HAPROXY_RUNTIME_API_CA" > "$RUNTIME_API_DIR/ca.pem")
unset HAPROXY_RUNTIME_API_PEM HAPROXY_RUNTIME_API_CA
# Version-sticky sessions: server -> version, kept in the run volume by the worker; empty until it writes one.
[ -e /run/haproxy/versions.map ] || : > /run/haproxy/versions.map

if ! out=$(haproxy -c -f "$CFG" 2>&1); then
  echo "loadbalancer: invalid HAProxy configuration:" >&2
  printf '%s\n' "$out" >&2
  exit 1
fi
[ -z "$out" ] || printf '%s\n' "$out"

if [ "${1:-}" = "validate" ]; then
  exit 0
fi
echo "loadbalancer: configuration valid, starting haproxy"
exec haproxy -W -db -f "$CFG" "$@"
