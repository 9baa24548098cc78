// The README's snippets are excerpts of the examples, and its table of examples gives the
// commands examples.test.js runs: both stay true as the examples change.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from '../lib/server.js';
import { COMMANDS, markedBlocks, readmeText } from './readme.js';

// A line that is only this marks lines of the file left out of an excerpt.
const ELISION = /^\s*(\/\/|#) …$/;

/** Splits an excerpt into its runs of lines between elision marks. */
function runs(lines) {
  const out = [[]];
  for (const l of lines) {
    if (ELISION.test(l)) out.push([]);
    else out.at(-1).push(l);
  }
  return out.filter((r) => r.length > 0);
}

/** Index in `file` where `run` starts as consecutive lines, at or after `from`; -1 if none. */
function findRun(file, run, from) {
  for (let i = from; i + run.length <= file.length; i++) {
    if (run.every((l, j) => file[i + j] === l)) return i;
  }
  return -1;
}

describe('README.md', () => {
  const excerpts = markedBlocks().filter((b) => b.kind === 'excerpt');

  it('marks its snippets as excerpts of the examples', () => {
    const files = new Set(excerpts.map((b) => b.file));
    for (const f of ['examples/cli/room.sh', 'examples/cli/ci.sh', 'examples/go/room/main.go', 'examples/python/room.py', 'examples/js/chat.js']) {
      assert.ok(files.has(f), `no <!-- excerpt: ${f} --> block`);
    }
  });

  for (const block of excerpts) {
    it(`its excerpt of ${block.file} is the file's lines, in order`, () => {
      const file = readFileSync(path.join(REPO_ROOT, block.file), 'utf8').split('\n');
      let at = 0;
      for (const run of runs(block.lines)) {
        const found = findRun(file, run, at);
        assert.ok(found >= 0, `these lines are not in ${block.file} (after its line ${at}) as the README shows them:\n${run.join('\n')}`);
        at = found + run.length;
      }
    });
  }

  it('gives each example the command examples.test.js runs', () => {
    const text = readmeText();
    const quote = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    for (const [name, command] of Object.entries(COMMANDS)) {
      // In code, at its start or after the `&&` of an install step.
      const shown = new RegExp(`(\`|&& )${quote(command)}[\` ]`);
      assert.match(text, shown, `the README does not show ${name}'s command \`${command}\``);
    }
  });
});
