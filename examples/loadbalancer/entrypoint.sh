#!/bin/sh
# Stagecoach load balancer: HAProxy in front of the dispatchers.
#
# Environment:
#   HAPROXY_CFG  (required) the full haproxy.cfg content (see src/topology/haproxy-config.ts renderHaproxyConfig)
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
