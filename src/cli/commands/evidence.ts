/**
 * `stagecoach evidence <pipeline> <execution> [--out FILE] [--key FILE]`: writes the execution's evidence bundle
 * (decisions with proofs, the keys in force, images, deployments, gate results) for `stagecoach verify`.
 */
import fs from 'node:fs/promises';
import { buildEvidence, executionTrust, writeEvidence } from '../../client/evidence';
import { signerForKeyFile } from '../../client/identity';
import { Stagecoach } from '../../client/operations';
import { EXIT } from '../errors';

type Values = Record<string, string | boolean | undefined>;

/** Fetches the execution's state and start input, and writes the bundle; answers where and how many decisions. */
export async function exportEvidence(options: { pipeline: string; execution: string; out: string; keyFile?: string }) {
  const signer = options.keyFile ? await signerForKeyFile(options.keyFile) : undefined;
  const sc = await Stagecoach.connect();
  try {
    const state = await sc.executionState(options.pipeline, options.execution);
    const trust = await executionTrust(sc.client, options.pipeline, options.execution);
    const content = buildEvidence(state, trust, new Date());
    await fs.writeFile(options.out, await writeEvidence(content, signer));
    return { file: options.out, decisions: content.decisions.length, signedBy: signer?.publicKey.fingerprint, trustModel: trust.model };
  } finally {
    await sc.close().catch(() => undefined);
  }
}

export async function runEvidence(values: Values, [pipeline, execution]: string[]): Promise<number> {
  const out = typeof values.out === 'string' ? values.out : `${pipeline}-${execution}.evidence.json`;
  const keyFile = typeof values.key === 'string' ? values.key : undefined;
  const result = await exportEvidence({ pipeline, execution, out, keyFile });
  process.stdout.write(`wrote ${result.file}: ${result.decisions} audited requests (identity: ${result.trustModel})` +
    `${result.signedBy ? `, signed by ${result.signedBy}` : ', unsigned'}; check it with \`stagecoach verify ${result.file}\`\n`);
  return EXIT.ok;
}

/** Its entry in the command table (the shape of src/cli/commands/command.ts's Command). */
export const evidenceCommand = {
  name: 'evidence',
  summary: 'write an execution\'s evidence bundle: decisions with their proofs, keys in force, images, gate results',
  details: ['--key signs the bundle (the API\'s key, as identity provider, or your own); `stagecoach verify` re-checks it offline.'],
  positionals: [{ name: 'pipeline', description: 'the pipeline id' }, { name: 'execution', description: 'the execution number' }],
  flags: [
    { name: 'out', type: 'string' as const, value: 'FILE', description: 'where to write it (default <pipeline>-<execution>.evidence.json)' },
    { name: 'key', type: 'string' as const, value: 'FILE', description: 'sign the bundle with this ed25519 key' },
  ],
  examples: ['./bin/stagecoach evidence sample 12 --out sample-12.evidence.json'],
  run: runEvidence,
};
