import { readFileSync } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from '../lib/server.js';

// The command of each example, as the README's table of examples gives it: examples.test.js
// runs these (see runnable) and readme.test.js checks that the README shows them.
export const COMMANDS = {
  chat: 'cd examples/js && npm ci && node chat.js',
  browser: 'cd examples/js && npm ci && node browser/server.js',
  goRoom: 'go run ./examples/go/room',
  pythonRoom: '/usr/bin/python3 examples/python/room.py',
  cliRoom: 'bash examples/cli/room.sh',
  ci: 'bash examples/cli/ci.sh',
  goReview: 'go run ./examples/go/reviewhandler',
  pythonReview: '/usr/bin/python3 examples/python/review_handler.py',
};

/**
 * The shell command the test runs for an example's command: without `npm ci` (scripts/test
 * ran it once for examples/js), and with the Go examples' binaries, built once, instead of
 * `go run` (a signal to `go run` would not reach the program it started).
 */
export function runnable(command, goBin) {
  return command
    .replace('npm ci && ', '')
    .replace(/^go run \.\/examples\/go\/(\w+)/, (_, name) => `${goBin}/${name}`);
}

/** The repository's README.md. */
export const readmeText = () => readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

/**
 * The README's marked code blocks: a fence right after `<!-- excerpt: FILE -->` (an excerpt
 * of FILE) or after `<!-- output of ivschatd … -->` (what the server prints). Each is
 * {kind: 'excerpt'|'output', file, lines}.
 */
export function markedBlocks(text = readmeText()) {
  const blocks = [];
  const re = /<!-- (excerpt: (\S+)|output of ivschatd)[^>]*-->\n```[a-z]*\n([\s\S]*?)\n```/g;
  for (const m of text.matchAll(re)) {
    blocks.push({ kind: m[2] ? 'excerpt' : 'output', file: m[2], lines: m[3].split('\n') });
  }
  return blocks;
}
