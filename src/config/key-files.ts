/**
 * A pipeline file may name a public key by its file instead of pasting the line (`keys: [.stagecoach/keys/alice.pub]`):
 * such entries are read when the file is loaded, so the configuration that crosses into the workflow holds key lines
 * only. The demo uses it for the sample users' keys it generates; a team pastes its people's lines.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Not a key line (`ssh-ed25519 AAAA…`) nor a fingerprint, and ending `.pub`: a key file. */
const isKeyFile = (entry: unknown): entry is string => typeof entry === 'string' && entry.trim().endsWith('.pub') && !/^(ssh-|SHA256:)/.test(entry.trim());

/** `raw` with each key file entry of `people` and `identityProviders` replaced by the file's line; problems by field. */
export async function readKeyFiles(raw: unknown, root: string): Promise<{ raw: unknown; problems: string[] }> {
  if (!isObject(raw)) return { raw, problems: [] };
  const problems: string[] = [];
  const copy: Record<string, unknown> = { ...raw };
  for (const field of ['people', 'identityProviders'] as const) {
    const list = raw[field];
    if (!Array.isArray(list)) continue;
    copy[field] = await Promise.all(list.map(async (entry: unknown, i) => {
      if (!isObject(entry) || !Array.isArray(entry.keys)) return entry;
      const keys = await Promise.all(entry.keys.map(async (key: unknown, k) => {
        if (!isKeyFile(key)) return key;
        const file = path.resolve(root, key.trim());
        try {
          return (await fs.readFile(file, 'utf8')).trim();
        } catch {
          problems.push(`${field}.${i}.keys.${k}: the key file ${key} (${file}) cannot be read: ` +
            'create it (`npm run demo` generates the sample users\' keys; or `ssh-keygen -t ed25519 -f <file without .pub>`), or paste the key line');
          return key;
        }
      }));
      return { ...entry, keys };
    }));
  }
  return { raw: copy, problems };
}
