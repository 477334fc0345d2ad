/**
 * The credentials that close HAProxy's runtime API (level admin) to everyone but Stagecoach: a per-environment CA,
 * the load balancer's server certificate and the workers' client certificate, all Ed25519, all derived from the
 * deployment's shared secret (STAGECOACH_SECRET) with the pipeline and environment.
 *
 * Why derived, not generated and stored: every worker of a deployment (several machines, remote engines) re-derives
 * the very same keys and, because Ed25519 signatures are deterministic and the validity is fixed, the very same
 * certificates, byte for byte. Nothing is kept anywhere, no two workers can race to create different ones, and the
 * CA's private key never leaves the worker's memory. The load balancer gets only its own certificate and key and the
 * CA's certificate (in its container's environment, see runtimeApiServerEnv), never the CA's key, so no other
 * certificate can be made without the secret. Node has no X.509 writer, hence the small DER encoder below (no new
 * dependency).
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';

/** The variables the load balancer image's entrypoint reads the runtime API's credentials from (examples/loadbalancer). */
export const RUNTIME_API_ENV = { serverPem: 'HAPROXY_RUNTIME_API_PEM', caPem: 'HAPROXY_RUNTIME_API_CA' } as const;

/** What the worker connects with: the CA it trusts, its client certificate and key, and the server certificate it pins. */
export interface RuntimeApiClientCredentials {
  ca: string;
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the load balancer's certificate, as Node's `PeerCertificate.fingerprint256` spells it. */
  serverFingerprint256: string;
}

interface EnvironmentCredentials {
  client: RuntimeApiClientCredentials;
  /** The load balancer's certificate followed by its private key: the one file HAProxy's `crt` takes. */
  serverPem: string;
}

// --- DER, just what an X.509 certificate needs -------------------------------------------------------------------

function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}
const sequence = (...items: Buffer[]) => der(0x30, ...items);
const utf8 = (text: string) => der(0x0c, Buffer.from(text, 'utf8'));
const octets = (bytes: Buffer) => der(0x04, bytes);
const bitString = (bytes: Buffer, unusedBits = 0) => der(0x03, Buffer.from([unusedBits]), bytes);
const explicit = (n: number, inner: Buffer) => der(0xa0 + n, inner);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) base128.unshift((v & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return der(0x06, Buffer.from(bytes));
}

const OID = {
  ed25519: '1.3.101.112', commonName: '2.5.4.3', organization: '2.5.4.10',
  subjectKeyId: '2.5.29.14', keyUsage: '2.5.29.15', basicConstraints: '2.5.29.19', authorityKeyId: '2.5.29.35',
  extKeyUsage: '2.5.29.37', serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2',
};
const ED25519 = sequence(oid(OID.ed25519));
// A PKCS#8 Ed25519 private key is this fixed prefix followed by the 32-byte seed (RFC 8410).
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
// Fixed validity, so certificates re-derived on any worker at any time are identical. RFC 5280 4.1.2.5: 9999-12-31
// means "no well-defined expiration"; the credentials change when the secret does.
const VALIDITY = sequence(der(0x17, Buffer.from('000101000000Z')), der(0x18, Buffer.from('99991231235959Z')));

const name = (commonName: string) => sequence(
  der(0x31, sequence(oid(OID.organization), utf8('Stagecoach'))),
  der(0x31, sequence(oid(OID.commonName), utf8(commonName))),
);
const extension = (id: string, critical: boolean, value: Buffer) =>
  sequence(oid(id), ...(critical ? [der(0x01, Buffer.from([0xff]))] : []), octets(value));

interface Party { commonName: string; key: KeyObject; spki: Buffer; keyId: Buffer }

function party(secret: string, scope: string, role: string): Party {
  const seed = createHmac('sha256', secret).update(`stagecoach runtime API ${role} key ${scope}`).digest();
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  // RFC 5280 4.2.1.2, method 1: SHA-1 of the public key's bits (the raw 32-byte Ed25519 key ends the SPKI).
  return { commonName: `stagecoach ${role} ${scope}`, key, spki, keyId: createHash('sha1').update(spki.subarray(-32)).digest() };
}

/** One certificate for `subject`, signed by `issuer` (the same party for the CA's own). */
function certificate(subject: Party, issuer: Party, use: 'ca' | 'serverAuth' | 'clientAuth'): string {
  const serial = createHash('sha256').update(subject.spki).update(use).digest().subarray(0, 16);
  serial[0] = (serial[0] & 0x7f) | 0x40; // positive and minimally encoded, as DER wants
  const extensions = use === 'ca'
    ? [
      extension(OID.basicConstraints, true, sequence(der(0x01, Buffer.from([0xff])))),
      extension(OID.keyUsage, true, bitString(Buffer.from([0x06]), 1)), // keyCertSign, cRLSign
    ]
    : [
      extension(OID.basicConstraints, true, sequence()),
      extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)), // digitalSignature
      extension(OID.extKeyUsage, false, sequence(oid(OID[use]))),
    ];
  const tbs = sequence(
    explicit(0, der(0x02, Buffer.from([2]))), // v3
    der(0x02, serial),
    ED25519,
    name(issuer.commonName),
    VALIDITY,
    name(subject.commonName),
    subject.spki,
    explicit(3, sequence(
      ...extensions,
      extension(OID.subjectKeyId, false, octets(subject.keyId)),
      extension(OID.authorityKeyId, false, sequence(der(0x80, issuer.keyId))),
    )),
  );
  const cert = sequence(tbs, ED25519, bitString(sign(null, tbs, issuer.key)));
  return `-----BEGIN CERTIFICATE-----\n${cert.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

const fingerprint256 = (pem: string) => createHash('sha256')
  .update(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64')).digest('hex').toUpperCase().match(/../g)!.join(':');
const privateKeyPem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();

// Deriving is cheap (three Ed25519 keys, three signatures), but every runtime API command asks: keep each once.
const derived = new Map<string, EnvironmentCredentials>();

function environmentCredentials(secret: string, pipelineId: string, environmentName: string): EnvironmentCredentials {
  const cacheKey = createHash('sha256').update(JSON.stringify([secret, pipelineId, environmentName])).digest('hex');
  const known = derived.get(cacheKey);
  if (known) return known;
  const scope = `${pipelineId}/${environmentName}`;
  const [ca, server, client] = ['runtime-api-ca', 'load-balancer', 'worker'].map((role) => party(secret, scope, role));
  const caPem = certificate(ca, ca, 'ca');
  const serverCert = certificate(server, ca, 'serverAuth');
  const credentials = {
    client: { ca: caPem, cert: certificate(client, ca, 'clientAuth'), key: privateKeyPem(client.key), serverFingerprint256: fingerprint256(serverCert) },
    serverPem: serverCert + privateKeyPem(server.key),
  };
  derived.set(cacheKey, credentials);
  return credentials;
}

/** What a worker presents to (and expects from) one environment's runtime API. */
export function runtimeApiClientCredentials(secret: string, pipelineId: string, environmentName: string): RuntimeApiClientCredentials {
  return environmentCredentials(secret, pipelineId, environmentName).client;
}

/**
 * The load balancer container's share, as `NAME=value` environment entries: its certificate and key, and the CA
 * whose client certificates it accepts. Handed at creation, never baked into the image (one image serves every
 * environment); only someone who can inspect the container through the Docker API (who could do anything to it
 * anyway) can read them.
 */
export function runtimeApiServerEnv(secret: string, pipelineId: string, environmentName: string): string[] {
  const { client, serverPem } = environmentCredentials(secret, pipelineId, environmentName);
  return [`${RUNTIME_API_ENV.serverPem}=${serverPem}`, `${RUNTIME_API_ENV.caPem}=${client.ca}`];
}
