/**
 * The artifact store: build logs, test reports, SARIF and Lighthouse reports live here, never in workflow history.
 * Executions keep references (paths relative to the store's root). A directory by default; the interface is small so
 * that S3-compatible storage can stand in where workers run on several machines.
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { artifactFile } from '../config/paths';

export interface ArtifactStore {
  /** Writes (replacing) one artifact; answers its reference. */
  put(ref: string, content: string | Buffer): Promise<string>;
  /** An append stream for long outputs such as build logs. */
  openLog(ref: string): Promise<{ write(line: string): void; close(): Promise<void>; ref: string }>;
  get(ref: string): Promise<Buffer>;
  list(prefix: string): Promise<string[]>;
  root: string;
}

export function createDirectoryArtifactStore(root: string): ArtifactStore {
  const resolve = (ref: string) => {
    const full = artifactFile(root, ref);
    if (!full) throw new Error(`artifact reference escapes the store: ${ref}`);
    return full;
  };
  return {
    root,
    async put(ref, content) {
      const file = resolve(ref);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, content);
      return ref;
    },
    async openLog(ref) {
      const file = resolve(ref);
      await fs.mkdir(path.dirname(file), { recursive: true });
      const out = createWriteStream(file, { flags: 'w' });
      return {
        ref,
        write: (line: string) => { out.write(line.endsWith('\n') ? line : `${line}\n`); },
        close: () => new Promise<void>((done, fail) => out.end((err?: Error | null) => (err ? fail(err) : done()))),
      };
    },
    get: (ref) => fs.readFile(resolve(ref)),
    async list(prefix) {
      const dir = resolve(prefix);
      const walk = async (d: string): Promise<string[]> => {
        const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
        const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)])));
        return nested.flat();
      };
      return (await walk(dir)).map((f) => path.relative(root, f).split(path.sep).join('/')).sort();
    },
  };
}
