import { messageCommand, optionalText, reasonFlag } from './send-message';

export const cancelCommand = messageCommand({
  action: 'cancel',
  summary: 'cancel a running execution (a rollout in progress is rolled back)',
  details: ['Its starter may; anyone else needs one of the pipeline\'s cancelRoles.'],
  flags: [reasonFlag],
  examples: ['./bin/stagecoach cancel sample 3 --by alice --reason "wrong branch"'],
  request: (values) => optionalText(values, 'reason'),
});
