// Lint rules that keep workflow code deterministic, promises handled, and imports running down the layers.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http',
  'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream', 'timers', 'tls', 'url',
  'util', 'v8', 'vm', 'worker_threads', 'zlib',
];

/**
 * The layers, bottom up: shared (the contract: plain data, message definitions, rules both sides apply); config and
 * topology (pure); workflows (replayed) and activities (the real parts); client (what the CLI and the API share);
 * cli and api; the console (pages over the API's own representations). provision and dev set up the machine and the
 * sample. An import never runs up or sideways.
 */
const LAYERS = ['shared', 'config', 'topology', 'workflows', 'activities', 'client', 'cli', 'api', 'console', 'provision', 'dev', 'worker'];
/**
 * A no-restricted-imports pattern refusing every layer not in `allowed`. A layer is reached by going up out of this
 * folder (`../api/server`, `../../worker`); a sibling file of the same name (`./api` in cli/commands) is not one.
 */
const onlyLayers = (here, allowed) => ({
  regex: `^(\\.\\./)+(${LAYERS.filter((name) => name !== here && !allowed.includes(name)).join('|')})(/.*)?$`,
  message: `${here} imports only ${allowed.length ? allowed.join(', ') : 'itself'} (the layers are in eslint.config.mjs).`,
});
const layered = (files, here, allowed, extra = []) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [onlyLayers(here, allowed), ...extra] }] },
});

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
          ...onlyLayers('workflows', ['shared', 'topology', 'activities']),
          message: 'Workflow code imports shared, topology\'s pure modules, workflows, and activity types only.',
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
  layered(['src/shared/**/*.ts'], 'shared', []),
  layered(['src/config/**/*.ts'], 'config', ['shared', 'topology']),
  layered(['src/topology/**/*.ts'], 'topology', ['shared']),
  layered(['src/activities/**/*.ts'], 'activities', ['shared', 'config', 'topology']),
  // The preflight checks the branch with the git activity's own lookup, so client and worker agree on it.
  layered(['src/client/**/*.ts'], 'client', ['shared', 'config', 'activities'], [{
    regex: '/activities(/(?!git$).*)?$', message: 'The client uses the git activity\'s lookup only.',
  }]),
  layered(['src/api/**/*.ts'], 'api', ['shared', 'config', 'client']),
  // The API's composition point serves the console beside the routes it is built on.
  layered(['src/api/server.ts'], 'api', ['shared', 'config', 'client', 'console']),
  layered(['src/console/**/*.ts'], 'console', ['shared', 'config', 'client', 'api']),
  layered(['src/cli/**/*.ts'], 'cli', ['shared', 'config', 'client']),
  // `dev` and the demo start the whole stack on this machine (the dev server, a worker, the API, the sample repository).
  layered(['src/cli/dev.ts'], 'cli', ['shared', 'config', 'client', 'api', 'provision', 'worker']),
  layered(['src/cli/demo.ts'], 'cli', ['shared', 'config', 'client', 'provision', 'dev']),
  layered(['src/provision/**/*.ts'], 'provision', ['shared', 'config']),
  layered(['src/dev/**/*.ts'], 'dev', ['shared', 'config']),
);
