/**
 * Renders the load balancer's haproxy.cfg (HAProxy in front of N dispatchers).
 *
 * Pure function, no imports: safe for workflow code (deterministic) as well as activities.
 * The output is the content passed to the load balancer image in env HAPROXY_CFG (examples/loadbalancer).
 *
 * - frontend on :frontendPort (default 80) answering `/lb-health` itself (monitor-uri), everything else to the backend;
 * - backend `dispatchers` (roundrobin), one `server` per dispatcher, HTTP health checks `GET /health` every 500ms
 *   (fall 2 / rise 2);
 * - servers are resolved through Docker's embedded DNS (`resolvers docker`, hold valid 1s), so a dispatcher container
 *   replaced by a new one with the same name (new IP) is picked up again; `init-addr last,libc,none` lets HAProxy start
 *   even when a dispatcher does not exist yet (that server is then MAINT until its name resolves);
 * - runtime API (level admin: `show stat`, `show servers state <backend>`, `set server <backend>/<server> state
 *   ready|drain|maint`) on a unix socket inside the container, reached from outside only through the TCP listener
 *   `runtime-api` on :runtimeApiPort (default 9999). Any container on the environment's network can reach that port,
 *   so it speaks TLS 1.3 only and requires a client certificate from the environment's own CA (`verify required`):
 *   only a Stagecoach worker holds one (src/activities/runtime-api-credentials.ts). Anyone else connects but is
 *   refused in the handshake, before a byte reaches the runtime API. A proxy in front of the socket rather than TLS on
 *   the `stats socket` line itself: HAProxy 2.6 accepts `ssl` there but still answers in clear text;
 * - a hand-over (a new HAProxy process, for a new image or a changed server list, taking over from the running one
 *   with no request dropped): a unix stats socket in the run directory both processes mount, through which the new
 *   one takes the old one's listening sockets (`haproxy -x`), and a server state file it starts from (what
 *   `show servers state` said just before), so drain/maint and health carry over. The old process, told to stop
 *   softly (SIGUSR1), closes no idle connection at once (`option idle-close-on-response`): each ends after its next
 *   answer, so no client's request meets a closing connection; `hard-stop-after` bounds how long it may take;
 * - with `maintenanceHold` (an environment in maintenance mode): while the key `hold` is in the map file (set through
 *   the runtime API: `add map` / `del map`), a request that finds no usable server in the backend is held by a Lua
 *   action (examples/loadbalancer/maintenance.lua) until one is, at most `maxMs`; past that it is answered with a 503
 *   maintenance page. Answers carry `X-Held-Ms` when their request was held.
 * - with `stickyVersions` (the default for an environment): each answer sets the cookie `stagecoach_version` to the
 *   version of the server that answered, read from the version map (server name -> version; the worker changes it
 *   through the runtime API as pairs leave and join, and keeps a copy of it in the run volume a new or restarted
 *   HAProxy loads). A request carrying that cookie goes to a server of that version that is UP, picked at random
 *   among them, and carries `X-Stagecoach-Version` (the dispatcher's cache key keeps versions apart); when none is
 *   UP, or with no cookie, it is balanced as usual. A server being drained has no entry in the map, so the cookie
 *   never sends a request to it. A visitor thus changes version at most once during a rollout, and never back.
 */

export const HAPROXY_BACKEND = 'dispatchers';
export const HAPROXY_FRONTEND = 'web';
export const HAPROXY_RESOLVERS = 'docker';
export const HAPROXY_MONITOR_URI = '/lb-health';
/** Map file whose key `hold` switches the maintenance hold on (examples/loadbalancer ships it empty). */
export const HAPROXY_MAINTENANCE_MAP = '/etc/haproxy/maintenance.map';
export const HAPROXY_MAINTENANCE_LUA = '/etc/haproxy/maintenance.lua';
/** The cookie that keeps a visitor on the version it last saw. */
export const VERSION_COOKIE = 'stagecoach_version';
/** The request header that tells the dispatcher which version a request is for (its cache key). */
export const VERSION_HEADER = 'X-Stagecoach-Version';
/** The directory every HAProxy process of one load balancer mounts (a volume): the hand-over socket lives there. */
export const HAPROXY_RUN_DIR = '/run/haproxy';
/**
 * Server name -> version of the pair behind it, for version-sticky sessions: in the run volume, so a new HAProxy (a
 * hand-over) and one restarted start from the versions the runtime API was last told (the entrypoint makes it empty).
 */
export const HAPROXY_VERSION_MAP = `${HAPROXY_RUN_DIR}/versions.map`;
/** Stats socket (level admin, listeners exposed) a new process takes the running one's listening sockets through. */
export const HAPROXY_HANDOVER_SOCKET = `${HAPROXY_RUN_DIR}/handover.sock`;
/** Server states a new process starts from; written into its container just before it starts, removed once loaded. */
export const HAPROXY_SERVER_STATE_FILE = '/etc/haproxy/servers.state';
/** The runtime API itself: a unix socket only processes inside the load balancer's container can open. */
export const HAPROXY_RUNTIME_API_SOCKET = `${HAPROXY_RUN_DIR}/admin.sock`;
export const HAPROXY_RUNTIME_API_PROXY = 'runtime-api';
/** The runtime API's certificate and key, and the CA its clients must present a certificate of (written by the image's entrypoint). */
export const HAPROXY_RUNTIME_API_PEM = '/etc/haproxy/runtime-api/server.pem';
export const HAPROXY_RUNTIME_API_CA = '/etc/haproxy/runtime-api/ca.pem';

export interface HaproxyServer {
  /** Server name in the backend (e.g. `d1`): what the runtime API commands use (`dispatchers/d1`). */
  name: string;
  /** Host name (Docker network DNS name of the dispatcher container) or IP. */
  host: string;
  port: number;
}

export interface HaproxyConfigInput {
  servers: HaproxyServer[];
  /** Port the frontend binds inside the container. Default 80. */
  frontendPort?: number;
  /** Port of the runtime API (stats socket, level admin) inside the container. Default 9999. */
  runtimeApiPort?: number;
  /** Backend name. Default `dispatchers` (HAPROXY_BACKEND). */
  backendName?: string;
  /** Maintenance mode: hold requests while no server is usable, at most `maxMs` (checked every `stepMs`). */
  maintenanceHold?: { maxMs: number; stepMs?: number };
  /** Version-sticky sessions (the cookie and the version map above). */
  stickyVersions?: boolean;
}

const IDENTIFIER = /^[A-Za-z0-9_.-]+$/;
const HOST = /^[A-Za-z0-9_.:-]+$/;

function checkPort(what: string, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`renderHaproxyConfig: ${what} must be an integer between 1 and 65535, got ${String(port)}`);
  }
  return port;
}

function checkIdentifier(what: string, value: string): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new Error(`renderHaproxyConfig: invalid ${what} ${JSON.stringify(value)} (letters, digits, _ . - only)`);
  }
  return value;
}

export function renderHaproxyConfig(input: HaproxyConfigInput): string {
  const frontendPort = checkPort('frontendPort', input.frontendPort ?? 80);
  const runtimeApiPort = checkPort('runtimeApiPort', input.runtimeApiPort ?? 9999);
  const backendName = checkIdentifier('backendName', input.backendName ?? HAPROXY_BACKEND);
  if (frontendPort === runtimeApiPort) {
    throw new Error('renderHaproxyConfig: frontendPort and runtimeApiPort must differ');
  }
  if (!Array.isArray(input.servers) || input.servers.length === 0) {
    throw new Error('renderHaproxyConfig: at least one server is required');
  }
  const seen = new Set<string>();
  const serverLines = input.servers.map((s) => {
    const name = checkIdentifier('server name', s.name);
    if (seen.has(name)) throw new Error(`renderHaproxyConfig: duplicate server name ${JSON.stringify(name)}`);
    seen.add(name);
    if (typeof s.host !== 'string' || !HOST.test(s.host)) {
      throw new Error(`renderHaproxyConfig: invalid host ${JSON.stringify(s.host)} for server ${name}`);
    }
    const port = checkPort(`port of server ${name}`, s.port);
    const host = s.host.includes(':') ? `[${s.host}]` : s.host; // IPv6 literal
    return (
      `    server ${name} ${host}:${port} check inter 500ms fall 2 rise 2` +
      ` resolvers ${HAPROXY_RESOLVERS} resolve-prefer ipv4 resolve-opts allow-dup-ip init-addr last,libc,none`
    );
  });

  const hold = input.maintenanceHold;
  if (hold && (!Number.isInteger(hold.maxMs) || hold.maxMs < 1 || hold.maxMs > 600_000)) {
    throw new Error(`renderHaproxyConfig: maintenanceHold.maxMs must be an integer between 1 and 600000, got ${String(hold.maxMs)}`);
  }
  // A held request must outlive its hold: the client and server timeouts grow with it.
  const timeoutSeconds = hold ? Math.max(30, Math.ceil(hold.maxMs / 1000) + 30) : 30;
  const maintenancePage = '<!doctype html><html><head><title>Maintenance</title></head><body><h1>Down for maintenance</h1>' +
    '<p>A new version is being deployed. Please try again in a moment.</p></body></html>';
  const lines = [
    '# Generated by Stagecoach (src/topology/haproxy-config.ts). Do not edit by hand.',
    'global',
    '    log stdout format raw local0 info',
    '    maxconn 4096',
    // The runtime API for the TLS listener below; the hand-over socket, with the listening sockets exposed, for a new
    // HAProxy started with -x (both in the run directory every HAProxy process of this load balancer mounts).
    `    stats socket ${HAPROXY_RUNTIME_API_SOCKET} mode 600 level admin`,
    `    stats socket ${HAPROXY_HANDOVER_SOCKET} mode 600 level admin expose-fd listeners`,
    '    stats timeout 30s',
    `    server-state-file ${HAPROXY_SERVER_STATE_FILE}`,
    // A process told to stop (a hand-over) ends at most this long after: a held request has its whole hold.
    `    hard-stop-after ${timeoutSeconds}s`,
    ...(hold ? [`    lua-load ${HAPROXY_MAINTENANCE_LUA}`] : []),
    '',
    `resolvers ${HAPROXY_RESOLVERS}`,
    '    nameserver dns 127.0.0.11:53',
    '    accepted_payload_size 8192',
    '    resolve_retries 3',
    '    timeout resolve 1s',
    '    timeout retry 1s',
    '    hold valid 1s',
    '    hold other 1s',
    '    hold refused 1s',
    '    hold nx 1s',
    '    hold timeout 1s',
    '    hold obsolete 1s',
    '',
    'defaults',
    '    mode http',
    '    log global',
    '    option httplog',
    '    option dontlognull',
    '    timeout connect 2s',
    `    timeout client ${timeoutSeconds}s`,
    `    timeout server ${timeoutSeconds}s`,
    '    timeout http-request 10s',
    '    timeout check 2s',
    '    retries 3',
    '    option redispatch',
    '    option httpchk GET /health',
    '    load-server-state-from-file global',
    // A process stopping softly closes an idle connection only after one more answer (with `Connection: close`):
    // closing it at once races a request the client is sending on it, and that request fails.
    '    option idle-close-on-response',
    '',
    `frontend ${HAPROXY_FRONTEND}`,
    `    bind :${frontendPort}`,
    `    monitor-uri ${HAPROXY_MONITOR_URI}`,
    ...(hold ? [
      `    acl maintenance_hold str(hold),map(${HAPROXY_MAINTENANCE_MAP}) -m found`,
      `    http-request lua.hold_until_served ${backendName} ${hold.maxMs} ${hold.stepMs ?? 100} if maintenance_hold`,
      `    http-request return status 503 content-type "text/html; charset=utf-8" string "${maintenancePage}" hdr Retry-After 10 hdr X-Held-Ms %[var(txn.held_ms)] if { var(txn.hold_expired) -m found }`,
      '    http-response set-header X-Held-Ms %[var(txn.held_ms)] if { var(txn.held_ms) -m found }',
    ] : []),
    `    default_backend ${backendName}`,
    '',
    `listen ${HAPROXY_RUNTIME_API_PROXY}`,
    '    mode tcp',
    `    bind :${runtimeApiPort} ssl crt ${HAPROXY_RUNTIME_API_PEM} ca-file ${HAPROXY_RUNTIME_API_CA} verify required ssl-min-ver TLSv1.3`,
    // Logged only when something goes wrong (a refused handshake is): the worker polls it several times a second.
    '    option tcplog',
    '    option dontlog-normal',
    `    server runtime-api unix@${HAPROXY_RUNTIME_API_SOCKET}`,
    '',
    `backend ${backendName}`,
    '    balance roundrobin',
    '    option httpchk GET /health',
    '    http-check expect status 200',
    ...(input.stickyVersions ? stickyVersionLines(backendName, input.servers.map((x) => x.name)) : []),
    ...serverLines,
    '',
  ];
  return lines.join('\n');
}

/**
 * The backend's rules for version-sticky sessions. `use-server` names one server, so each server has a rule: first
 * the server a random draw picks, if it runs the cookie's version and is UP (spreading sticky visitors over every
 * server of their version), then the first server that does; no rule matches when none is UP (normal balancing).
 */
function stickyVersionLines(backend: string, servers: string[]): string[] {
  // Variable names take letters, digits, `_` and `.` only.
  const versionVar = (server: string) => `txn.version_${server.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const serves = (server: string) => `{ var(txn.sticky_version),strcmp(${versionVar(server)}) eq 0 } { srv_is_up(${backend}/${server}) }`;
  return [
    `    http-request del-header ${VERSION_HEADER}`,
    `    http-request set-var(txn.sticky_version) req.cook(${VERSION_COOKIE}) if { req.cook(${VERSION_COOKIE}) -m len gt 0 }`,
    ...servers.map((s) => `    http-request set-var(${versionVar(s)}) str(${s}),map(${HAPROXY_VERSION_MAP})`),
    `    http-request set-var(txn.pick) rand(${servers.length})`,
    // Only a version a server here runs now reaches the dispatcher (the cookie's value is the visitor's to change).
    ...servers.map((s) => `    http-request set-header ${VERSION_HEADER} %[var(txn.sticky_version)] if ${serves(s)}`),
    ...servers.map((s, i) => `    use-server ${s} if { var(txn.pick) -m int ${i} } ${serves(s)}`),
    ...servers.map((s) => `    use-server ${s} if ${serves(s)}`),
    // The version of the server that answered, when the visitor's cookie does not say it already.
    `    http-response set-var(txn.served_version) srv_name,map(${HAPROXY_VERSION_MAP})`,
    `    http-response add-header Set-Cookie "${VERSION_COOKIE}=%[var(txn.served_version)]; Path=/; HttpOnly; SameSite=Lax"` +
      ' if { var(txn.served_version) -m found } !{ var(txn.served_version),strcmp(txn.sticky_version) eq 0 }',
  ];
}
