/**
 * The admin plane is Stagecoach's alone (issue 16, item 3). A container on the environment's network, as an app or
 * a test container is, reaches the load balancer's runtime API port and a dispatcher, yet issues no runtime API
 * command (plain TCP, TLS without a certificate, a certificate of another secret's CA: all refused) and no cache
 * flush (BAN/PURGE without the token or with another secret's: 403), while the worker's own activities do both.
 * Real HAProxy and Varnish on the real Docker Engine, no pipeline: the topology activities build just what is needed.
 */
import type { Readable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import Docker from 'dockerode';
import tarFs from 'tar-fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeToken, DISPATCHER_PORT } from '../../src/activities/cache';
import { createCacheActivities } from '../../src/activities/cache';
import { endpoint, execInContainer } from '../../src/activities/containers';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import { createLoadBalancerActivities, RUNTIME_API_PORT } from '../../src/activities/load-balancer';
import { runtimeApiClientCredentials } from '../../src/activities/runtime-api-credentials';
import { createTopologyActivities, removePipelineTopology } from '../../src/activities/topology';
import { EXAMPLES_DIR } from '../../src/config/paths';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { containerName, networkName } from '../../src/topology/names';
import { testPipeline } from '../helpers/harness';

const ID = 't-admin';
const SECRET = 'admin-plane-test-secret';
const docker = new Docker();
const provider = createDockerProvider();
const environment = parsePipelineConfig(testPipeline(ID, '/nonexistent')).environments.stage;
const activity = <T>(fn: () => Promise<T>) => new MockActivityEnvironment().run(fn) as Promise<T>;
const lb = createLoadBalancerActivities({ docker: provider, secret: SECRET });
let prober: Docker.Container;

async function build(dir: string, tag: string, target?: string): Promise<string> {
  const stream = (await docker.buildImage(tarFs.pack(dir) as unknown as Readable, { t: tag, rm: true, ...(target ? { target } : {}) })) as Readable;
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()),
    (e: { error?: string }) => { if (e.error) reject(new Error(`${tag}: ${e.error}`)); }));
  return (await docker.getImage(tag).inspect()).Id;
}

/** Runs a Python script in the prober (on the environment's network) and answers what it printed as JSON. */
async function probe<T>(script: string, env: Record<string, string> = {}): Promise<T> {
  const { exitCode, output } = await activity(() => execInContainer(docker, prober, `python3 -c '${script}'`, env));
  expect(exitCode, output).toBe(0);
  return JSON.parse(output.trim().split('\n').at(-1)!) as T;
}

// One command sent to the runtime API from inside the network: plain TCP, TLS without a certificate, TLS with the
// certificate in CERT/KEY (when set). The reply, or the error that ended the attempt.
const RUNTIME_API_PROBE = `
import json, os, socket, ssl
def attempt(wrap):
    try:
        s = wrap(socket.create_connection(("lb", ${RUNTIME_API_PORT}), timeout=5))
        s.sendall(b"show info\\n")
        reply = b""
        while True:
            chunk = s.recv(4096)
            if not chunk: break
            reply += chunk
        return {"reply": reply.decode("utf8", "replace")}
    except Exception as e:
        return {"error": type(e).__name__ + ": " + str(e)}
def tls(cert=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        open("/tmp/c.pem", "w").write(os.environ["CERT"]); open("/tmp/k.pem", "w").write(os.environ["KEY"])
        ctx.load_cert_chain("/tmp/c.pem", "/tmp/k.pem")
    return lambda s: ctx.wrap_socket(s)
print(json.dumps({"plain": attempt(lambda s: s), "tlsNoCert": attempt(tls()), "tlsForeignCert": attempt(tls(True))}))
`;

const PURGE_PROBE = `
import json, os, urllib.request, urllib.error
def purge(method, token):
    headers = {"X-Purge-Token": token} if token else {}
    try:
        return urllib.request.urlopen(urllib.request.Request("http://dispatcher-1:${DISPATCHER_PORT}/", method=method, headers=headers), timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code
print(json.dumps({m: [purge(m, None), purge(m, os.environ["FOREIGN"])] for m in ["BAN", "PURGE"]}))
`;

beforeAll(async () => {
  await removePipelineTopology(docker, ID);
  const topology = createTopologyActivities({ docker: provider, secret: SECRET });
  await topology.prepareEnvironment({ pipelineId: ID, environment });
  // The prober: Python from the sample app's base stage. It also stands in for the dispatcher's publish
  // (`publish-1`), answering the health check, so HAProxy sees pair 1 UP.
  const python = await build(`${EXAMPLES_DIR}/app`, `stagecoach/${ID}-prober:test`, 'base');
  const network = networkName(ID, environment.name);
  prober = await docker.createContainer({
    name: containerName(ID, environment.name, 'prober'), Image: python,
    Cmd: ['sh', '-c', 'mkdir -p /tmp/site && touch /tmp/site/health && cd /tmp/site && exec python3 -m http.server 8080'],
    Labels: { 'stagecoach.pipeline': ID }, HostConfig: { NetworkMode: network, Init: true },
    NetworkingConfig: { EndpointsConfig: { [network]: endpoint(undefined, 'publish-1') } },
  });
  await prober.start();
  const dispatcher = await build(`${EXAMPLES_DIR}/app/dispatcher`, `stagecoach/${ID}-dispatcher:test`);
  await activity(() => topology.deployNode({
    pipelineId: ID, environment, role: 'dispatcher', node: 'dispatcher-1', image: dispatcher, appPort: 8080, deployKey: `${ID}/admin-plane`,
  }));
  await activity(() => lb.waitForServerUp({ pipelineId: ID, environment, server: 'pair-1' }));
});
afterAll(async () => { await removePipelineTopology(docker, ID); });

describe('the admin plane', () => {
  it("refuses the runtime API to a container on the environment's network; the worker's activities drive it", async () => {
    const foreign = runtimeApiClientCredentials('another deployment', ID, environment.name);
    type Attempt = { reply?: string; error?: string };
    const seen = await probe<Record<'plain' | 'tlsNoCert' | 'tlsForeignCert', Attempt>>(RUNTIME_API_PROBE, { CERT: foreign.cert, KEY: foreign.key });
    // It connects every time (the port is there), and never gets an answer from the runtime API.
    for (const [how, attempt] of Object.entries(seen)) expect(attempt.reply ?? '', how).not.toMatch(/HAProxy|pxname/);
    expect(seen.tlsNoCert.error).toMatch(/CERTIFICATE_REQUIRED|certificate required/i);
    expect(seen.tlsForeignCert.error).toMatch(/UNKNOWN_CA|unknown ca/i);

    expect((await lb.readServers({ pipelineId: ID, environment })).map((s) => [s.server, s.status])).toEqual([['pair-1', 'UP']]);
    expect((await lb.setServerState({ pipelineId: ID, environment, server: 'pair-1', state: 'drain' })).status).toBe('DRAIN');
    expect((await lb.setServerState({ pipelineId: ID, environment, server: 'pair-1', state: 'ready' })).status).toBe('UP');
    // A worker with another secret is refused too: it does not even trust the load balancer's certificate.
    const stranger = createLoadBalancerActivities({ docker: provider, secret: 'another deployment' });
    await expect(stranger.readServers({ pipelineId: ID, environment })).rejects.toThrow(/certificate/);
  });

  it("accepts BAN/PURGE only with Stagecoach's token: 403 without it or with another secret's", async () => {
    const seen = await probe<Record<'BAN' | 'PURGE', number[]>>(PURGE_PROBE, { FOREIGN: purgeToken('another deployment', ID, environment.name) });
    expect(seen).toEqual({ BAN: [403, 403], PURGE: [403, 403] });
    const cache = createCacheActivities({ docker: provider, secret: SECRET });
    expect(await cache.flushCache({ pipelineId: ID, environment, pair: 1 })).toEqual({ status: 200 });
  });
});
