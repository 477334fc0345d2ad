/**
 * The runtime API's credentials (src/activities/runtime-api-credentials.ts): derived from the secret, the same on
 * every worker, a real X.509 chain (checked by Node's own parser and verifier), and different for another secret,
 * pipeline or environment. And the transport's one fallback (src/activities/load-balancer.ts).
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { haproxyCommand } from '../../src/activities/load-balancer';
import { runtimeApiClientCredentials, runtimeApiServerEnv, RUNTIME_API_ENV } from '../../src/activities/runtime-api-credentials';

const serverPem = (env: string[]) => env.find((e) => e.startsWith(`${RUNTIME_API_ENV.serverPem}=`))!.slice(RUNTIME_API_ENV.serverPem.length + 1);

describe('the runtime API credentials', () => {
  it('chain the worker and the load balancer to the environment CA, for their own use only', () => {
    const client = runtimeApiClientCredentials('s', 'sample', 'prod');
    const ca = new X509Certificate(client.ca);
    const worker = new X509Certificate(client.cert);
    const server = new X509Certificate(serverPem(runtimeApiServerEnv('s', 'sample', 'prod')));
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    for (const leaf of [worker, server]) {
      expect(leaf.ca).toBe(false);
      expect(leaf.checkIssued(ca)).toBe(true);
      expect(leaf.verify(ca.publicKey)).toBe(true);
    }
    expect(worker.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(server.fingerprint256).toBe(client.serverFingerprint256);
    // The load balancer gets the CA's certificate, never a key to sign with: only its own key follows its certificate.
    expect(runtimeApiServerEnv('s', 'sample', 'prod')).toEqual([`${RUNTIME_API_ENV.serverPem}=${serverPem(runtimeApiServerEnv('s', 'sample', 'prod'))}`, `${RUNTIME_API_ENV.caPem}=${client.ca}`]);
    expect(serverPem(runtimeApiServerEnv('s', 'sample', 'prod')).match(/BEGIN PRIVATE KEY/g)).toHaveLength(1);
  });

  it('are re-derived byte for byte from the same secret, and differ for another secret, pipeline or environment', async () => {
    const first = runtimeApiClientCredentials('s', 'sample', 'prod');
    // A fresh copy of the module, without its cache: derived anew, as on another worker.
    vi.resetModules();
    const elsewhere = await import('../../src/activities/runtime-api-credentials');
    const again = elsewhere.runtimeApiClientCredentials('s', 'sample', 'prod');
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
    expect(elsewhere.runtimeApiServerEnv('s', 'sample', 'prod')).toEqual(runtimeApiServerEnv('s', 'sample', 'prod'));
    for (const other of [runtimeApiClientCredentials('t', 'sample', 'prod'), runtimeApiClientCredentials('s', 'other', 'prod'), runtimeApiClientCredentials('s', 'sample', 'stage')]) {
      expect(other.ca).not.toBe(first.ca);
      expect(new X509Certificate(other.cert).verify(new X509Certificate(first.ca).publicKey)).toBe(false);
    }
  });
});

describe('the runtime API transport', () => {
  it('falls back to clear text only for a load balancer that answers in clear text (one made before TLS)', async () => {
    // A runtime API as such a load balancer had it: one line in, the reply, the connection closed.
    const received: string[] = [];
    const server = net.createServer((socket) => socket.once('data', (line) => {
      received.push(line.toString('latin1'));
      socket.end(line.toString('latin1').startsWith('show info') ? 'Name: HAProxy\n' : 'Unknown command.\n');
    }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as net.AddressInfo;
      const reply = await haproxyCommand({ host: '127.0.0.1', port, credentials: runtimeApiClientCredentials('s', 'sample', 'prod') }, 'show info');
      expect(reply).toBe('Name: HAProxy\n');
      // The TLS hello first (refused as no command), then the command in clear text.
      expect(received).toHaveLength(2);
      expect(received[1]).toBe('show info\n');
    } finally {
      server.close();
    }
  });
});
