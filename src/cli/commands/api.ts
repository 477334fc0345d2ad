import type { Command, Values } from './command';
import { portFlag, str } from './context';
import { startTracing } from '../../observability/tracing';

async function api(values: Values): Promise<number> {
  const port = portFlag(values, 'port', 'api', 8080, 0);
  const host = str(values, 'host') ?? '127.0.0.1';
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the server side loads only when it runs (index.ts)
  const { runApi } = require('../../api/server') as typeof import('../../api/server');
  // Before the API's client connects: its interceptors are chosen then.
  startTracing('stagecoach-api');
  return runApi({ host, port, tokensFile: str(values, 'tokens') });
}

export const apiCommand: Command = {
  name: 'api',
  summary: 'run the HTTP API (Cloud Manager-like; OpenAPI at /api/openapi.json) against TEMPORAL_ADDRESS',
  positionals: [],
  flags: [
    { name: 'port', type: 'string', value: 'PORT', description: 'where it listens (default 8080; 0: a free port)' },
    { name: 'host', type: 'string', value: 'ADDRESS', description: 'the address it listens on (default 127.0.0.1)' },
    { name: 'tokens', type: 'string', value: 'FILE', description: 'bearer tokens and their users (default STAGECOACH_API_TOKENS, else examples/api-tokens.yaml)' },
  ],
  examples: ['./bin/stagecoach api --port 8080'],
  run: api,
};
