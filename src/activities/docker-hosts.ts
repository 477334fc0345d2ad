/**
 * One Docker client per engine. An environment's nodes run on the local engine by default, or on a remote engine
 * (TLS or SSH) named in its configuration, so a topology can span machines. Images are built once, on the local
 * engine; a remote engine gets the very same image (same ID) copied to it before it is first used there.
 */
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import type { DockerHostConfig } from '../shared/types';

export type DockerProvider = (host?: DockerHostConfig) => Docker;

export function createDockerProvider(defaultClient: Docker = new Docker()): DockerProvider {
  const clients = new Map<string, Docker>();
  return (host) => {
    // Where ports are published is not how the engine is reached.
    const { publishAddress: _published, ...connection } = host ?? {};
    if (Object.keys(connection).length === 0) return defaultClient;
    const key = JSON.stringify(connection);
    let client = clients.get(key);
    if (!client) {
      const { certPath, sshKeyPath, ...options } = connection;
      const tls = certPath
        ? {
            ca: fs.readFileSync(path.join(certPath, 'ca.pem')),
            cert: fs.readFileSync(path.join(certPath, 'cert.pem')),
            key: fs.readFileSync(path.join(certPath, 'key.pem')),
          }
        : {};
      // SSH: a key file when given, else the running ssh-agent (docker-modem runs `docker system dial-stdio` there).
      const ssh = options.protocol === 'ssh'
        ? { sshOptions: sshKeyPath ? { privateKey: fs.readFileSync(sshKeyPath) } : { agent: process.env.SSH_AUTH_SOCK } }
        : {};
      client = new Docker({ ...options, ...tls, ...ssh } as Docker.DockerOptions);
      clients.set(key, client);
    }
    return client;
  };
}

/** Copies of one image to one engine in flight, so parallel nodes of a window share one transfer. */
const transfers = new WeakMap<Docker, Map<string, Promise<void>>>();

/**
 * Makes sure `engine` has the image `imageId`, copying it from `local` (docker save | docker load) when it does not.
 * Image IDs are content addresses, so the copy has the same ID: "build once, deploy the same image" holds across
 * engines. Answers what it did; an image missing on both engines (or on the local one) is left to the caller to report.
 */
export async function ensureImageOn(engine: Docker, local: Docker, imageId: string): Promise<'local' | 'present' | 'copied' | 'missing'> {
  // The engine that built it: nothing to copy, and the caller inspects the image anyway.
  if (engine === local) return 'local';
  if (await engine.getImage(imageId).inspect().then(() => true, () => false)) return 'present';
  if (!(await local.getImage(imageId).inspect().then(() => true, () => false))) return 'missing';
  const inFlight = transfers.get(engine) ?? new Map<string, Promise<void>>();
  transfers.set(engine, inFlight);
  let transfer = inFlight.get(imageId);
  if (!transfer) {
    transfer = (async () => {
      const archive = await local.getImage(imageId).get();
      const loading = await engine.loadImage(archive, { quiet: true });
      await new Promise<void>((resolve, reject) => engine.modem.followProgress(loading, (err: Error | null) => (err ? reject(err) : resolve())));
    })().finally(() => inFlight.delete(imageId));
    inFlight.set(imageId, transfer);
  }
  await transfer;
  return 'copied';
}
