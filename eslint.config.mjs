// Lint rules that keep workflow code deterministic and promises handled.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http',
  'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream', 'timers', 'tls', 'url',
  'util', 'v8', 'vm', 'worker_threads', 'zlib',
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.stagecoach/**', 'examples/**', 'bench-results/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain CommonJS scripts that run before dependencies are installed.
    files: ['scripts/**/*.cjs', 'bin/*'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', __dirname: 'readonly', process: 'readonly', console: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed: no Node modules, no I/O libraries, no wall clock or randomness of its own.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not use Node modules: do it in an activity.' })),
          ...nodeBuiltins.map((name) => ({ name: `node:${name}`, message: 'Workflow code must not use Node modules: do it in an activity.' })),
          { name: 'dockerode', message: 'Docker calls belong in src/activities.' },
          { name: 'zod', message: 'Validate config in an activity or the client, not in workflow code.' },
          { name: '@temporalio/activity', message: 'Activity context is not available in workflows.' },
          { name: '@temporalio/client', message: 'Use @temporalio/workflow APIs inside workflows.' },
          { name: '@temporalio/worker', message: 'Worker APIs must not be bundled into workflows.' },
        ],
        patterns: [{
          group: ['**/activities/*', '**/activities', '!**/activities/index'],
          message: 'Import activity types only: `import type { ... } from "../activities"`.',
          allowTypeImports: true,
        }, {
          group: ['**/config/*', '**/provision/*', '**/cli/*'],
          message: 'Workflow code must not import Node-side modules.',
        }],
      }],
      'no-restricted-properties': ['error',
        { object: 'Math', property: 'random', message: 'Use uuid4() from @temporalio/workflow if randomness is needed.' },
      ],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow: timers must be durable.' },
        { name: 'setInterval', message: 'Use sleep() in a loop from @temporalio/workflow.' },
        { name: 'fetch', message: 'Network I/O belongs in activities.' },
        { name: 'process', message: 'Workflows must not read the process environment.' },
      ],
    },
  },
);
