/**
 * The sample pipeline names its people's keys by file (.stagecoach/keys/*.pub, made by the demo): read when the file
 * is loaded, so the trust an execution starts with holds key lines; a missing file is reported with its field.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureKeyPair } from '../../src/client/identity';
import { readKeyFiles } from '../../src/config/key-files';
import { DEFAULT_PIPELINES_DIR, parsePipelineConfig } from '../../src/config/pipeline-config';

let tmp: string | undefined;
afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const sampleRaw = async () => YAML.parse(await fs.readFile(path.join(DEFAULT_PIPELINES_DIR, 'sample.yaml'), 'utf8')) as unknown;

describe('key files in a pipeline', () => {
  it('reads the sample pipeline\'s keys from the files the demo makes: a signed trust of alice, bob and the API', async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'stagecoach-key-files-'));
    const lines = Object.fromEntries(await Promise.all(['alice', 'bob', 'api'].map(async (name) =>
      [name, await ensureKeyPair(path.join(tmp!, '.stagecoach', 'keys', name), `${name}@test`)] as const)));
    expect(await ensureKeyPair(path.join(tmp, '.stagecoach', 'keys', 'alice'), 'again')).toBe(lines.alice); // kept, not remade
    const { raw, problems } = await readKeyFiles(await sampleRaw(), tmp);
    expect(problems).toEqual([]);
    const config = parsePipelineConfig(raw, 'sample.yaml');
    expect(config.trust).toMatchObject({
      model: 'signed', emergencyRoles: ['DEPLOYMENT_MANAGER'],
      people: [{ name: 'alice', keys: [lines.alice] }, { name: 'bob', keys: [lines.bob] }],
      identityProviders: [{ name: 'api', keys: [lines.api] }],
    });
    expect(config).not.toHaveProperty('people');
  });

  it('names the field and how to make a key file that is missing', async () => {
    const { problems } = await readKeyFiles(await sampleRaw(), path.join(os.tmpdir(), 'no-such-checkout'));
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^people\.0\.keys\.0: the key file \.stagecoach\/keys\/alice\.pub .* cannot be read: create it \(`npm run demo`/);
  });
});
