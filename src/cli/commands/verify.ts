/**
 * `stagecoach verify <bundle> [--signer KEY]`: re-checks an evidence bundle offline (no server): its canonical form,
 * its digest, its signature, and every decision's own signature against the keys in force. Exit 1 on any problem.
 */
import fs from 'node:fs/promises';
import { verifyEvidence, type EvidenceReport } from '../../client/evidence';
import { EXIT } from '../errors';

type Values = Record<string, string | boolean | undefined>;

export function evidenceReportLines(file: string, report: EvidenceReport): string[] {
  if (!report.ok) return [`${file}: NOT VERIFIED`, ...report.problems.map((p) => `  - ${p}`)];
  const c = report.content!;
  const people = [...c.trust.people, ...c.trust.identityProviders].flatMap((p) => p.keys.map((k) => `${p.name} ${k.split(/\s+/).slice(0, 2).join(' ')}`));
  return [
    `${file}: verified — pipeline ${c.pipeline}, execution ${c.execution} (${c.summary.status}), identity: ${c.trust.model}`,
    `  bundle     ${report.signedBy ? `signed by ${report.signedBy}` : 'unsigned (its digest holds; sign it with evidence --key)'}`,
    ...report.proven.map((d) => `  decision   ${d.at} ${d.action} by ${d.person}${d.via ? `, via the ${d.via}` : ''} (${d.fingerprint})`),
    ...(c.images ? [`  images     app ${c.images.app.id}, dispatcher ${c.images.dispatcher.id}`] : []),
    ...people.map((p) => `  key        ${p}`),
  ];
}

export async function runVerify(values: Values, [file]: string[]): Promise<number> {
  const text = await fs.readFile(file, 'utf8');
  const signer = typeof values.signer === 'string' ? values.signer : undefined;
  const inline = signer !== undefined && /^(ssh-ed25519 |SHA256:)/.test(signer);
  const trustedSigners = signer === undefined ? undefined : [inline ? signer : (await fs.readFile(signer, 'utf8')).trim()];
  const report = verifyEvidence(text, { trustedSigners });
  process.stdout.write(`${evidenceReportLines(file, report).join('\n')}\n`);
  return report.ok ? EXIT.ok : EXIT.failure;
}

/** Its entry in the command table (the shape of src/cli/commands/command.ts's Command). */
export const verifyCommand = {
  name: 'verify',
  summary: 'check an evidence bundle offline: any changed byte, a forged signature or a decision without a valid proof fails',
  details: ['--signer requires the bundle to be signed by that key (a .pub file, a key line or a SHA256: fingerprint). Exit 1 when not verified.'],
  positionals: [{ name: 'bundle', description: 'the file `stagecoach evidence` wrote' }],
  flags: [{ name: 'signer', type: 'string' as const, value: 'KEY', description: 'the key that must have signed the bundle' }],
  examples: ['./bin/stagecoach verify sample-12.evidence.json'],
  run: runVerify,
};
