#!/usr/bin/env node
// Installs node_modules when missing or older than package-lock.json, so `npm run demo` and `npm test` work on a
// fresh clone. Plain Node, no dependencies: it runs before anything is installed.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const marker = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');
const mtime = (f) => { try { return fs.statSync(f).mtimeMs; } catch { return 0; } };

if (mtime(marker) >= mtime(lock) && mtime(marker) > 0) process.exit(0);
console.log('[setup] installing npm dependencies (package-lock.json)…');
// npm install keeps to the lockfile; `npm ci` refuses here over optional platform packages this registry lacks.
const result = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
