/**
 * One Docker client per engine. An environment's nodes run on the local engine by default, or on a remote engine
 * (TLS or SSH) named in its configuration, so a topology can span machines.
 */
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import type { DockerHostConfig } from '../shared/types';

export type DockerProvider = (host?: DockerHostConfig) => Docker;

export function createDockerProvider(defaultClient: Docker = new Docker()): DockerProvider {
  const clients = new Map<string, Docker>();
  return (host) => {
    if (!host || Object.keys(host).length === 0) return defaultClient;
    const key = JSON.stringify(host);
    let client = clients.get(key);
    if (!client) {
      const tls = host.certPath
        ? {
            ca: fs.readFileSync(path.join(host.certPath, 'ca.pem')),
            cert: fs.readFileSync(path.join(host.certPath, 'cert.pem')),
            key: fs.readFileSync(path.join(host.certPath, 'key.pem')),
          }
        : {};
      client = new Docker({ ...host, ...tls } as Docker.DockerOptions);
      clients.set(key, client);
    }
    return client;
  };
}
