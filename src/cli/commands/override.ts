import { UsageError } from '../errors';
import { requiredFlag } from './context';
import { messageCommand } from './send-message';

export const overrideCommand = messageCommand({
  action: 'override',
  summary: 'override the failed important checks of a waiting gate (code quality, security or performance test) so the execution goes on',
  details: [
    '--metrics lists every failing important metric and nothing else (`status` shows them under "failing").',
    'Only a user holding one of the gate\'s overrideRoles may override it (or reject at it).',
  ],
  flags: [{ name: 'metrics', type: 'string', value: 'a,b', description: 'the failing important metrics, comma-separated', required: true }],
  examples: ['./bin/stagecoach override sample 3 --by alice --metrics coverage,reliability_rating'],
  request: (values) => {
    const metrics = requiredFlag(values, 'metrics', 'override', 'a,b').split(',').map((m) => m.trim()).filter(Boolean);
    if (!metrics.length) throw new UsageError('override: --metrics needs at least one metric id', 'override');
    return { metrics };
  },
});
