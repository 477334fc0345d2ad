/**
 * A second, separate Docker Engine on this machine for a test: its own dockerd (own socket, data root, exec root,
 * containerd, image store, networks), started from the same dockerd binary as the first. What runs there really is
 * elsewhere: images must be copied to it, and containers there are not on the first engine's networks.
 *
 * It leaves iptables and IP masquerading to the first engine (`--iptables=false --ip-masq=false`, a bridge of its own),
 * so the two daemons never fight over the host's rules; published ports still work (docker-proxy on 127.0.0.1), and
 * its networks are routed by the host to and from the first engine's, as two machines on one routed network would be.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { STATE_DIR } from '../../src/config/paths';
import { aptInstall } from '../../src/provision/docker';
import { which } from '../../src/provision/util';
import { subnetContains } from '../../src/topology/placement';
import { freePort } from './free-port';

export interface SecondEngine {
  socketPath: string;
  /** The engine over TLS (mutual, with a CA of the test's own), as a pipeline names a remote engine: 127.0.0.1 only. */
  tls: { protocol: 'https'; host: '127.0.0.1'; port: number; certPath: string };
  docker: Docker;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * `subnets`: the networks the test will create on this engine. The first engine's FORWARD policy (DROP, with
 * br_netfilter on) also sees traffic between two containers on one of this engine's bridges, and only accepts its own
 * engine's; a rule per subnet lets this engine's containers talk among themselves, as they would on a machine of
 * their own. Removed at stop.
 */
export async function startSecondEngine(dir: string, options: { subnets: string[] }): Promise<SecondEngine> {
  await fs.mkdir(dir, { recursive: true });
  // Unix socket paths are short (108 bytes) and containerd nests its own under the exec root: keep it in /run.
  // Fixed names, so whatever a crashed run left (its dockerd is stopped by CI through ci-pids) is replaced here.
  const execRoot = '/run/sc-second-engine';
  await fs.mkdir(execRoot, { recursive: true });
  // Its default bridge is one of its own: `--bridge none` would make dockerd delete docker0, the first engine's.
  await removeStaleBridges(options.subnets);
  const bridge = await createBridge('sc-br-second');
  const forwarding = await allowWithin(options.subnets);
  const socketPath = path.join(execRoot, 'docker.sock');
  const logFile = path.join(dir, 'dockerd.log');
  const log = await fs.open(logFile, 'w');
  const certs = await makeCertificates(path.join(dir, 'tls'));
  const tlsPort = await freePort();
  const dockerd = await which('dockerd', { systemDirs: true });
  if (!dockerd) throw new Error('dockerd is not installed: run `npm run provision` (it installs docker.io)');
  const child: ChildProcess = spawn(dockerd, [
    '--host', `unix://${socketPath}`, '--host', `tcp://127.0.0.1:${tlsPort}`,
    '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.serverCert, '--tlskey', certs.serverKey, '--data-root', path.join(dir, 'data'), '--exec-root', execRoot,
    '--pidfile', path.join(execRoot, 'dockerd.pid'), '--bridge', bridge.name, '--iptables=false', '--ip-masq=false',
  ], { stdio: ['ignore', log.fd, log.fd] });
  // CI stops by pid whatever a crashed test leaves behind.
  const pidFile = path.join(STATE_DIR, 'ci-pids', `dockerd-second-${child.pid}`);
  await fs.mkdir(path.dirname(pidFile), { recursive: true });
  await fs.writeFile(pidFile, String(child.pid));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const docker = new Docker({ socketPath });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await docker.ping().then(() => true, () => false)) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`a second dockerd did not start on ${socketPath}; see ${logFile}:\n${(await fs.readFile(logFile, 'utf8').catch(() => '')).slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    socketPath, docker, logFile, tls: { protocol: 'https', host: '127.0.0.1', port: tlsPort, certPath: certs.clientDir },
    async stop() {
      // Its containers and networks first (so their bridges go with them), then the daemon, by its pid.
      const containers = await docker.listContainers({ all: true }).catch(() => []);
      await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
      const networks = await docker.listNetworks().catch(() => []);
      await Promise.all(networks.filter((n) => !['bridge', 'host', 'none'].includes(n.Name))
        .map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
      if (child.exitCode === null) child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killed);
      await log.close();
      await fs.rm(pidFile, { force: true });
      // Its image store only served this test (copied images); the log stays beside it for a failed run.
      await fs.rm(path.join(dir, 'data'), { recursive: true, force: true }).catch(() => undefined);
      await fs.rm(execRoot, { recursive: true, force: true }).catch(() => undefined);
      await bridge.remove();
      await forwarding.remove();
    },
  };
}

/** A Linux bridge for the second engine's default network, on an address no Docker pool uses (iproute2's `ip`). */
async function createBridge(name: string): Promise<{ name: string; remove(): Promise<void> }> {
  let ip = await which('ip', { systemDirs: true });
  if (!ip) {
    await aptInstall(['iproute2'], (line) => process.stdout.write(`[second engine] ${line}\n`));
    ip = (await which('ip', { systemDirs: true }))!;
  }
  const run = (...args: string[]) => promisify(execFile)(ip!, args);
  await run('link', 'del', name).catch(() => undefined); // left by a run that crashed
  await run('link', 'add', name, 'type', 'bridge');
  await run('addr', 'add', '10.213.250.1/24', 'dev', name);
  await run('link', 'set', name, 'up');
  return { name, remove: () => run('link', 'del', name).then(() => undefined, () => undefined) };
}

/** `iptables -I DOCKER-USER -s <subnet> -d <subnet> -j ACCEPT` for each subnet (DOCKER-USER: the first engine's own hook). */
async function allowWithin(subnets: string[]): Promise<{ remove(): Promise<void> }> {
  const iptables = await which('iptables', { systemDirs: true });
  if (!iptables) throw new Error('iptables is not installed (docker.io depends on it): run `npm run provision`');
  const rule = (subnet: string) => ['DOCKER-USER', '-s', subnet, '-d', subnet, '-j', 'ACCEPT'];
  const run = (...args: string[]) => promisify(execFile)(iptables, args);
  for (const subnet of subnets) {
    while (await run('-D', ...rule(subnet)).then(() => true, () => false)); // left by a run that crashed
    await run('-I', ...rule(subnet));
  }
  return { remove: async () => { for (const subnet of subnets) await run('-D', ...rule(subnet)).catch(() => undefined); } };
}

/**
 * A second engine killed without its clean-up (a crashed run) leaves its networks' bridges behind, with their routes:
 * a new network on the same subnet would then be unreachable from the host. Deletes any link holding an address in
 * `subnets` (the first engine never uses them: they belong to this engine in the test).
 */
async function removeStaleBridges(subnets: string[]): Promise<void> {
  const ip = await which('ip', { systemDirs: true });
  if (!ip) return;
  const { stdout } = await promisify(execFile)(ip, ['-j', 'addr', 'show']);
  const links = JSON.parse(stdout) as Array<{ ifname: string; addr_info?: Array<{ family: string; local: string }> }>;
  for (const link of links) {
    if (link.addr_info?.some((a) => a.family === 'inet' && subnets.some((s) => subnetContains(s, a.local)))) {
      await promisify(execFile)(ip, ['link', 'del', link.ifname]).catch(() => undefined);
    }
  }
}

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate (openssl), laid out as Docker's clients expect:
 * `clientDir` holds ca.pem, cert.pem and key.pem.
 */
async function makeCertificates(dir: string) {
  const clientDir = path.join(dir, 'client');
  await fs.mkdir(clientDir, { recursive: true });
  const f = (name: string) => path.join(dir, name);
  if (!(await which('openssl', { systemDirs: true }))) await aptInstall(['openssl'], (line) => process.stdout.write(`[second engine] ${line}\n`));
  const openssl = (...args: string[]) => promisify(execFile)('openssl', args);
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=stagecoach-test-ca', '-keyout', f('ca-key.pem'), '-out', f('ca.pem'));
  const sign = async (name: string, subject: string, extensions: string) => {
    await fs.writeFile(f(`${name}.ext`), extensions);
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', f(`${name}-key.pem`), '-out', f(`${name}.csr`));
    await openssl('x509', '-req', '-days', '2', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial',
      '-extfile', f(`${name}.ext`), '-out', f(`${name}-cert.pem`));
  };
  await sign('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await sign('client', '/CN=stagecoach', 'extendedKeyUsage=clientAuth\n');
  await fs.copyFile(f('ca.pem'), path.join(clientDir, 'ca.pem'));
  await fs.copyFile(f('client-cert.pem'), path.join(clientDir, 'cert.pem'));
  await fs.copyFile(f('client-key.pem'), path.join(clientDir, 'key.pem'));
  return { ca: f('ca.pem'), serverCert: f('server-cert.pem'), serverKey: f('server-key.pem'), clientDir };
}
