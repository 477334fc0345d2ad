import type { Command, Values } from './command';
import { portFlag } from './context';

async function dev(values: Values): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the worker side loads only when it runs (index.ts)
  const { DevError, runDev } = require('../dev') as typeof import('../dev');
  const port = portFlag(values, 'port', 'dev', 7233);
  const uiPort = portFlag(values, 'ui-port', 'dev', port + 1000);
  const apiPort = portFlag(values, 'api-port', 'dev', 8080, 0);
  try {
    return await runDev({ port, uiPort, apiPort });
  } catch (err) {
    if (err instanceof DevError) {
      process.stderr.write(`stagecoach: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

export const devCommand: Command = {
  name: 'dev',
  summary: 'run a Temporal dev server (Web UI on :8233), the Stagecoach worker and the HTTP API (:8080); Ctrl-C stops all',
  details: [
    'Provisions what it needs first: the temporal CLI, and Chromium for the Experience Audit (on Debian as root).',
    'Other ports: then export TEMPORAL_ADDRESS and STAGECOACH_WEB_UI for the other commands (dev prints them).',
  ],
  positionals: [],
  flags: [
    { name: 'port', type: 'string', value: 'PORT', description: 'the Temporal frontend on 127.0.0.1 (default 7233)' },
    { name: 'ui-port', type: 'string', value: 'PORT', description: 'the Web UI (default: --port + 1000)' },
    { name: 'api-port', type: 'string', value: 'PORT', description: 'the HTTP API (default 8080; 0: no API)' },
  ],
  examples: ['./bin/stagecoach dev', './bin/stagecoach dev --port 7300 --api-port 0'],
  run: dev,
};
