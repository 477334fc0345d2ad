import { UsageError } from '../errors';
import { str } from './context';
import { messageCommand } from './send-message';

export const scheduleCommand = messageCommand({
  action: 'schedule',
  summary: 'schedule the approved production deployment, at a time or now',
  flags: [
    { name: 'at', type: 'string', value: 'ISO-TIME', description: 'when, e.g. 2030-01-31T22:00:00Z (within the step\'s waiting limit)', oneOf: 'when' },
    { name: 'now', type: 'boolean', description: 'deploy at once', oneOf: 'when' },
  ],
  examples: ['./bin/stagecoach schedule sample 3 --now --by alice', './bin/stagecoach schedule sample 3 --at 2030-01-31T22:00:00Z --by alice'],
  request: (values) => {
    const at = str(values, 'at');
    const now = values.now === true;
    if ((at === undefined) === !now) throw new UsageError('schedule: give exactly one of --at ISO-TIME or --now', 'schedule');
    if (at === undefined) return { now: true };
    const ms = Date.parse(at);
    if (Number.isNaN(ms)) throw new UsageError(`schedule: --at must be an ISO 8601 time such as 2030-01-31T22:00:00Z (got ${at})`, 'schedule');
    return { at: new Date(ms).toISOString() };
  },
});
