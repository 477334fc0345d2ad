import { messageCommand, optionalText } from './send-message';

export const approveCommand = messageCommand({
  action: 'approve',
  summary: 'approve the production deployment of a waiting execution',
  details: ['The one who started the execution never approves it.'],
  flags: [{ name: 'comment', type: 'string', value: 'TEXT', description: 'kept in the audit log' }],
  examples: ['./bin/stagecoach approve sample 3 --key ~/.ssh/id_ed25519', './bin/stagecoach approve sample 3 --by alice'],
  request: (values) => optionalText(values, 'comment'),
});
