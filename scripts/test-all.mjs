// Runs the checks and every test tier in order, streaming their output, and ends with one line
// that counts them all: `N passed, N failed`. Each tier is the npm script `test:<tier>`; its
// counts are read from the node test runner's summary (`# pass N`, `# fail N`) or mocha's
// (`N passing`, `N failing`). A tier that fails to run, or runs no test, fails the whole. A tier
// whose system cannot start on this machine (scripts/run-tests.mjs exits 77 with `SKIPPED: why`)
// is skipped, and the summary says so on its last line.
//
//   node scripts/test-all.mjs [tier...]     (default: every tier below)

import { spawn } from 'node:child_process';

const TIERS = ['core', 'cli', 'views', 'ssh', 'slurm', 'containers', 'build', 'vscode'];
const SKIPPED = 77;
const CHECKS = ['typecheck', 'lint'];

const tiers = process.argv.slice(2).length > 0 ? process.argv.slice(2) : TIERS;

/** Run `npm run <script>`, echoing its output; resolves with exit code and the text. */
function run(script) {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    const forward = (stream) => (chunk) => {
      text += chunk.toString();
      stream.write(chunk);
    };
    child.stdout.on('data', forward(process.stdout));
    child.stderr.on('data', forward(process.stderr));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), text }));
  });
}

function counts(text) {
  let passed = 0;
  let failed = 0;
  for (const m of text.matchAll(/^# pass (\d+)$/gm)) {
    passed += Number(m[1]);
  }
  for (const m of text.matchAll(/^# fail (\d+)$/gm)) {
    failed += Number(m[1]);
  }
  for (const m of text.matchAll(/^\s*(\d+) passing\b/gm)) {
    passed += Number(m[1]);
  }
  for (const m of text.matchAll(/^\s*(\d+) failing\b/gm)) {
    failed += Number(m[1]);
  }
  return { passed, failed };
}

let passed = 0;
let failed = 0;
const problems = [];
const skipped = [];
for (const check of CHECKS) {
  const { code } = await run(check);
  if (code !== 0) {
    problems.push(`${check} failed`);
  }
}
for (const tier of tiers) {
  const started = Date.now();
  console.log(`\n== test:${tier}`);
  const { code, text } = await run(`test:${tier}`);
  const c = counts(text);
  passed += c.passed;
  failed += c.failed;
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (code === SKIPPED) {
    const why = /^SKIPPED: (.*)$/m.exec(text)?.[1] ?? 'its system could not start';
    skipped.push(`test:${tier} (${why})`);
    console.log(`== test:${tier}: SKIPPED: ${why}`);
    continue;
  }
  console.log(`== test:${tier}: ${c.passed} passed, ${c.failed} failed (${seconds} s)`);
  if (code !== 0) {
    problems.push(`test:${tier} exited with ${code}`);
  } else if (c.passed + c.failed === 0) {
    problems.push(`test:${tier} ran no test`);
  }
}
if (problems.length > 0) {
  console.log(`\nproblems: ${problems.join('; ')}`);
}
if (skipped.length > 0) {
  console.log(
    `\n!! ${skipped.length} tier${skipped.length === 1 ? '' : 's'} SKIPPED: ${skipped.join('; ')}`,
  );
}
const skipNote =
  skipped.length > 0 ? `, ${skipped.length} tier${skipped.length === 1 ? '' : 's'} skipped` : '';
console.log(`\n${passed} passed, ${failed} failed${skipNote}`);
process.exit(problems.length > 0 || failed > 0 ? 1 : 0);
