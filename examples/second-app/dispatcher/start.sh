#!/bin/sh
# The second app's dispatcher, as Stagecoach runs it:
#   no argument  render the VCL from PUBLISH_HOST, PUBLISH_PORT and PURGE_TOKEN (set by Stagecoach), run varnishd
#   `validate`   render it with placeholders and compile it (varnishd -C): exit 0 when valid, 1 with the compiler's
#                message otherwise; Stagecoach runs this before it touches any node
set -eu
if [ "${1:-}" = validate ]; then
  PUBLISH_HOST=${PUBLISH_HOST:-127.0.0.1} PURGE_TOKEN=${PURGE_TOKEN:-validate-only}
fi
: "${PUBLISH_HOST:?PUBLISH_HOST is required}" "${PURGE_TOKEN:?PURGE_TOKEN is required}" "${PUBLISH_PORT:=9000}"
sed -e "s|@PUBLISH_HOST@|$PUBLISH_HOST|g" -e "s|@PUBLISH_PORT@|$PUBLISH_PORT|g" -e "s|@PURGE_TOKEN@|$PURGE_TOKEN|g" \
  /etc/varnish/board.vcl.tmpl > /var/lib/varnish/board.vcl
# Varnish resolves the backend when it compiles the VCL: give Docker's DNS a few seconds for a new publish (a
# publish on another engine comes as an IPv4 address, which needs no resolving).
i=0
case "$PUBLISH_HOST" in
  *[!0-9.]*) while ! getent hosts "$PUBLISH_HOST" >/dev/null 2>&1 && [ "$i" -lt 25 ]; do i=$((i + 1)); sleep 0.2; done;;
esac
# varnishd -C writes the compiled C, and any error, to stderr: keep the compiler's message only (without the
# scratch directory's clean-up notice), and exit 1 with it.
if ! message=$(varnishd -C -f /var/lib/varnish/board.vcl -n /tmp/varnish-check 2>&1 >/dev/null); then
  echo "dispatcher: invalid VCL:" >&2
  printf '%s\n' "$message" | grep -v "^Could not delete 'vcl_" >&2
  exit 1
fi
rm -rf /tmp/varnish-check
[ "${1:-}" = validate ] && { echo "dispatcher: VCL ok"; exit 0; }
exec varnishd -F -a :80 -f /var/lib/varnish/board.vcl -s malloc,32M -n /var/lib/varnish/board
