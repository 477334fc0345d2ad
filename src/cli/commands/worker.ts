import { EXIT } from '../errors';
import type { Command } from './command';

export const workerCommand: Command = {
  name: 'worker',
  summary: 'run the Stagecoach worker against TEMPORAL_ADDRESS (default localhost:7233)',
  details: ['TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (or a Temporal environment config profile) choose the server.'],
  positionals: [],
  flags: [],
  examples: ['TEMPORAL_ADDRESS=127.0.0.1:7233 ./bin/stagecoach worker'],
  run: async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the worker side loads only when it runs (index.ts)
    const { runWorker } = require('../../worker') as typeof import('../../worker');
    await runWorker();
    return EXIT.ok;
  },
};
