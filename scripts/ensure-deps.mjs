#!/usr/bin/env node
// Makes `npm start` work on a fresh clone: installs npm packages if missing, then builds.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
if (!existsSync('node_modules/.package-lock.json')) execFileSync(npm, ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
