import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config/paths';
import { EXIT } from '../errors';
import { jsonFlag, type Command } from './command';
import { out } from './context';

function packageVersion(file: string): string {
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** This checkout's package.json version and the Temporal TypeScript SDK it runs on (the installed @temporalio/client). */
export function versions(): { stagecoach: string; temporalSdk: string; node: string } {
  let sdk = 'not installed';
  try {
    sdk = packageVersion(require.resolve('@temporalio/client/package.json'));
  } catch {
    // node_modules missing: say so rather than fail
  }
  return { stagecoach: packageVersion(path.join(PROJECT_ROOT, 'package.json')), temporalSdk: sdk, node: process.versions.node };
}

export function versionLine(): string {
  const v = versions();
  return `stagecoach ${v.stagecoach} (Temporal TypeScript SDK ${v.temporalSdk}, Node ${v.node})`;
}

export const versionCommand: Command = {
  name: 'version',
  summary: "Stagecoach's version and the Temporal SDK's (also `stagecoach --version`)",
  positionals: [],
  flags: [jsonFlag],
  examples: ['./bin/stagecoach --version', './bin/stagecoach version --json'],
  run: async (values) => {
    out(values.json === true ? JSON.stringify(versions()) : versionLine());
    return EXIT.ok;
  },
};
