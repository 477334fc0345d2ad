import { messageCommand, optionalText, reasonFlag } from './send-message';

export const rejectCommand = messageCommand({
  action: 'reject',
  summary: 'reject it at the approval or a failed gate (the execution is cancelled)',
  flags: [reasonFlag],
  examples: ['./bin/stagecoach reject sample 3 --by alice --reason "not this week"'],
  request: (values) => optionalText(values, 'reason'),
});
