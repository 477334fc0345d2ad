#!/bin/sh
# Stagecoach dispatcher: Varnish in front of ONE publish instance.
#
# Environment:
#   PUBLISH_HOST     (required) DNS name of the publish container on the docker network, or its IPv4 address
#   PUBLISH_PORT     (default 8080)
#   PURGE_TOKEN      (required) value expected in the X-Purge-Token header for BAN / PURGE
#   PUBLISH_WAIT     (default 10) seconds to wait for PUBLISH_HOST to resolve (varnish resolves it once, at VCL load)
#   VCL_TEMPLATE     (default /etc/varnish/default.vcl.tmpl) with @PUBLISH_HOST@ @PUBLISH_PORT@ @PURGE_TOKEN@
#   VARNISH_STORAGE  (default malloc,64M)
#
# Arguments: none -> run varnishd (extra args are passed to varnishd);
#            `validate` -> only render + compile the VCL, exit 0/1 (PUBLISH_HOST defaults to 127.0.0.1,
#            PURGE_TOKEN to a placeholder), so a configuration can be checked before any node is touched.
set -eu

MODE=run
if [ "${1:-}" = "validate" ]; then
  MODE=validate
  shift
  : "${PUBLISH_HOST:=127.0.0.1}"
  : "${PURGE_TOKEN:=validate-only}"
fi
: "${PUBLISH_PORT:=8080}"
: "${PUBLISH_WAIT:=10}"
: "${VCL_TEMPLATE:=/etc/varnish/default.vcl.tmpl}"
: "${VARNISH_STORAGE:=malloc,64M}"
VCL=/var/lib/varnish/default.vcl

die() { echo "dispatcher: $*" >&2; exit 1; }

[ -n "${PUBLISH_HOST:-}" ] || die "PUBLISH_HOST is required"
[ -n "${PURGE_TOKEN:-}" ] || die "PURGE_TOKEN is required"
case "$PUBLISH_PORT" in ''|*[!0-9]*) die "PUBLISH_PORT must be a number, got '$PUBLISH_PORT'";; esac
case "$PUBLISH_WAIT" in ''|*[!0-9]*) die "PUBLISH_WAIT must be a number of seconds, got '$PUBLISH_WAIT'";; esac
case "$PUBLISH_HOST" in *[!A-Za-z0-9._:-]*) die "PUBLISH_HOST has invalid characters: '$PUBLISH_HOST'";; esac
case "$PURGE_TOKEN" in *[\"\\\{\}\ ]*) die "PURGE_TOKEN must not contain quotes, backslashes, braces or spaces";; esac
[ -r "$VCL_TEMPLATE" ] || die "VCL template $VCL_TEMPLATE not readable"

# Escape sed replacement specials (& | \) in the values.
esc() { printf '%s' "$1" | sed -e 's/[&|\]/\\&/g'; }
sed -e "s|@PUBLISH_HOST@|$(esc "$PUBLISH_HOST")|g" \
    -e "s|@PUBLISH_PORT@|$(esc "$PUBLISH_PORT")|g" \
    -e "s|@PURGE_TOKEN@|$(esc "$PURGE_TOKEN")|g" \
    "$VCL_TEMPLATE" > "$VCL"

# Varnish resolves the backend name when the VCL is compiled: give docker DNS a moment. An IPv4 address (a publish
# on another Docker Engine) needs no resolving, and `getent hosts` would look for its reverse name in vain.
i=0
case "$PUBLISH_HOST" in
  *[!0-9.]*)
    while ! getent hosts "$PUBLISH_HOST" >/dev/null 2>&1; do
      i=$((i + 1))
      [ "$i" -le $((PUBLISH_WAIT * 5)) ] || { echo "dispatcher: warning: $PUBLISH_HOST does not resolve" >&2; break; }
      sleep 0.2
    done;;
esac

# Validate: compile the VCL to C (fails with vcc's message on any error).
if ! out=$(varnishd -C -f "$VCL" -n /tmp/varnish-check 2>&1 >/dev/null); then
  echo "dispatcher: invalid VCL ($VCL_TEMPLATE):" >&2
  printf '%s\n' "$out" | grep -v "^Could not delete 'vcl_" >&2
  exit 1
fi
rm -rf /tmp/varnish-check
if [ "$MODE" = validate ]; then
  echo "dispatcher: VCL ok"
  exit 0
fi

echo "dispatcher: VCL ok, backend ${PUBLISH_HOST}:${PUBLISH_PORT}, varnishd listening on :80"
# -F: foreground; after exec varnishd is PID 1 and stops on SIGTERM.
exec varnishd -F -a :80 -f "$VCL" -s "$VARNISH_STORAGE" \
  -n /var/lib/varnish/dispatcher \
  -p default_ttl=120 -p default_grace=0 -p default_keep=0 \
  "$@"
