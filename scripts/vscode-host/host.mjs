// A real VS Code for tests and `npm start`, on a machine that reaches only npm and Debian:
// code-server from npm (VS Code's server and web workbench with a Node extension host) driven by
// Debian's chromium through playwright-core. Installed once under .vscode-host/ (gitignored);
// every run gets fresh state under .vscode-host/runs/ and stops everything it started.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HOST_DIR = process.env.EXECNET_HOST_DIR || path.join(ROOT, '.vscode-host');
/** code-server 4.100.x is the last line whose `engines` accept Node 20 (VS Code 1.100). */
export const CODE_SERVER_VERSION = '4.100.3';
const CS_DIR = path.join(HOST_DIR, `code-server-${CODE_SERVER_VERSION}`);
const CS_ENTRY = path.join(CS_DIR, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const STAMP = path.join(CS_DIR, '.installed');
/** @vscode/ripgrep's version in code-server 4.100's VS Code, and the rg build it downloads. */
const RIPGREP_CACHE = [
  'vscode-ripgrep-cache-1.15.11',
  'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz',
];

export const log = (...parts) => console.log(`[vscode-host ${elapsed()}]`, ...parts);
const t0 = Date.now();
function elapsed() {
  return `${((Date.now() - t0) / 1000).toFixed(1)}s`;
}

export function chromiumPath() {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((c) => c && fs.existsSync(c));
  if (!found) {
    throw new Error(
      'Chromium is missing: install the Debian package (apt-get install chromium) or set CHROMIUM=/path/to/chrome',
    );
  }
  return found;
}

function which(command) {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * Install code-server under .vscode-host unless that exact version is there already.
 * Its postinstall compiles native modules for this Node (needs g++, make, python3 and
 * libkrb5-dev) and downloads ripgrep from GitHub, which is pre-seeded from Debian's rg.
 */
export function ensureCodeServer() {
  if (fs.existsSync(STAMP) && fs.existsSync(CS_ENTRY)) {
    return;
  }
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== 20) {
    throw new Error(`code-server ${CODE_SERVER_VERSION} needs Node 20, this is ${process.version}`);
  }
  const rg = which('rg');
  if (!rg) {
    throw new Error('ripgrep is missing: install the Debian package (apt-get install ripgrep)');
  }
  if (!fs.existsSync('/usr/include/gssapi/gssapi.h')) {
    throw new Error(
      'libkrb5-dev is missing (code-server builds kerberos): apt-get install libkrb5-dev',
    );
  }
  log(
    `installing code-server ${CODE_SERVER_VERSION} into ${path.relative(ROOT, CS_DIR)} (a few minutes, once)`,
  );
  fs.rmSync(CS_DIR, { recursive: true, force: true });
  const tmp = path.join(HOST_DIR, 'tmp');
  const cache = path.join(tmp, RIPGREP_CACHE[0]);
  fs.mkdirSync(cache, { recursive: true });
  fs.mkdirSync(CS_DIR, { recursive: true });
  const staging = fs.mkdtempSync(path.join(tmp, 'rg-'));
  fs.copyFileSync(rg, path.join(staging, 'rg'));
  fs.chmodSync(path.join(staging, 'rg'), 0o755);
  run('tar', ['-C', staging, '-czf', path.join(cache, RIPGREP_CACHE[1]), 'rg']);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.writeFileSync(
    path.join(CS_DIR, 'package.json'),
    '{ "name": "vscode-host", "private": true }\n',
  );
  const logFile = path.join(HOST_DIR, 'code-server-install.log');
  const out = fs.openSync(logFile, 'w');
  const r = spawnSync(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--no-save',
      '--foreground-scripts',
      `code-server@${CODE_SERVER_VERSION}`,
    ],
    {
      cwd: CS_DIR,
      stdio: ['ignore', out, out],
      env: {
        ...process.env,
        TMPDIR: tmp, // where @vscode/ripgrep looks for its cache
        npm_config_unsafe_perm: 'true', // as root, else the postinstall refuses to run
        npm_config_yes: 'true', // node-pty's postinstall runs `npx node-gyp`
        npm_config_update_notifier: 'false',
        // node-gyp would download Node's headers from nodejs.org: use this Node's own
        ...(localNodeDir() && !process.env.npm_config_nodedir
          ? { npm_config_nodedir: localNodeDir() }
          : {}),
      },
    },
  );
  fs.closeSync(out);
  if (r.status !== 0 || !fs.existsSync(CS_ENTRY)) {
    const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
    throw new Error(`installing code-server failed (log: ${logFile}):\n${tail}`);
  }
  fs.writeFileSync(STAMP, `${CODE_SERVER_VERSION}\n`);
  log('code-server installed');
}

/** The prefix of this Node when it ships its headers (Debian's and NodeSource's nodejs do). */
function localNodeDir() {
  const prefix = path.dirname(path.dirname(process.execPath));
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node.h')) ? prefix : undefined;
}

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with status ${r.status}`);
  }
}

/** A fresh folder for one run's state; kept for inspection, older ones pruned. */
export function newRunDir(label) {
  const runs = path.join(HOST_DIR, 'runs');
  fs.mkdirSync(runs, { recursive: true });
  const old = fs.readdirSync(runs).sort();
  for (const name of old.slice(0, Math.max(0, old.length - 8))) {
    fs.rmSync(path.join(runs, name), { recursive: true, force: true });
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = path.join(runs, `${stamp}-${label}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** User settings that keep the workbench quiet and offline. */
export const QUIET_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'workbench.enableExperiments': false,
  'chat.disableAIFeatures': true,
  'git.enabled': false,
  'python.terminal.activateEnvironment': false,
};

/** Make the user-data folder with settings; returns its paths. */
export function prepareState(dir, settings = {}) {
  const userData = path.join(dir, 'user-data');
  const extensions = path.join(dir, 'extensions');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.mkdirSync(extensions, { recursive: true });
  fs.writeFileSync(
    path.join(userData, 'User', 'settings.json'),
    JSON.stringify({ ...QUIET_SETTINGS, ...settings }, null, 2),
  );
  fs.writeFileSync(
    path.join(dir, 'config.yaml'),
    'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n',
  );
  return { dir, userData, extensions };
}

/** The environment code-server runs with: all of its state inside the run folder. */
function hostEnv(state, extra = {}) {
  return {
    ...process.env,
    XDG_CONFIG_HOME: path.join(state.dir, 'xdg-config'),
    XDG_DATA_HOME: path.join(state.dir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(state.dir, 'xdg-cache'),
    ...extra,
  };
}

function baseArgs(state) {
  return [
    '--config',
    path.join(state.dir, 'config.yaml'),
    '--user-data-dir',
    state.userData,
    '--extensions-dir',
    state.extensions,
  ];
}

/** `code-server --install-extension x.vsix` (no server needed). */
export function installExtension(state, vsix) {
  const r = spawnSync(
    process.execPath,
    [CS_ENTRY, ...baseArgs(state), '--install-extension', vsix],
    {
      env: hostEnv(state),
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) {
    throw new Error(`installing ${vsix} failed:\n${r.stdout}${r.stderr}`);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Start code-server on 127.0.0.1 in its own process group, wait until it answers, and return
 * its URL and a stop() that ends the whole group (server, extension host, watchers, pty host).
 */
export async function startCodeServer(
  state,
  { port, trust = false, extraArgs = [], env = {}, logFile } = {},
) {
  port ??= await freePort();
  const out = fs.openSync(logFile ?? path.join(state.dir, 'code-server.log'), 'a');
  const args = [
    CS_ENTRY,
    ...baseArgs(state),
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    ...(trust ? [] : ['--disable-workspace-trust']),
    ...extraArgs,
  ];
  const child = spawn(process.execPath, args, {
    detached: true, // a process group of its own, so stop() reaches every descendant
    stdio: ['ignore', out, out],
    env: hostEnv(state, env),
  });
  fs.closeSync(out);
  let exited = false;
  const exit = new Promise((resolve) => child.on('exit', resolve));
  child.on('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      throw new Error(`code-server exited at start; see ${state.dir}/code-server.log`);
    }
    try {
      const r = await globalThis.fetch(`${url}healthz`);
      if (r.ok) {
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      stopGroup(child.pid);
      throw new Error(`code-server did not answer within 60 s; see ${state.dir}/code-server.log`);
    }
    await sleep(200);
  }
  return {
    url,
    port,
    pid: child.pid,
    /** Resolves with the exit code when code-server ends (on its own or by stop()). */
    exited: exit,
    stop: () => stopGroup(child.pid, () => exited),
  };
}

async function stopGroup(pid, isExited = () => false) {
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 40 && alive(); i++) {
    await sleep(250);
  }
  if (alive() || !isExited()) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Headless chromium with a throwaway profile. */
export async function launchBrowser({ headless = true } = {}) {
  const { chromium } = await import('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless,
    viewport: { width: 1400, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => undefined);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A workspace of the Python examples and the settings the tests and `npm start` use. */
export function makeWorkspace(dir, settings) {
  const ws = path.join(dir, 'workspace');
  fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
  for (const name of fs.readdirSync(path.join(ROOT, 'examples'))) {
    if (name.endsWith('.py')) {
      fs.copyFileSync(path.join(ROOT, 'examples', name), path.join(ws, name));
    }
  }
  fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
  return ws;
}

/** Build the production bundles, then the .vsix; returns its path. */
export function packageExtension(outFile) {
  run(process.execPath, [path.join(ROOT, 'scripts', 'package.mjs'), '--out', outFile], {
    cwd: ROOT,
  });
  return outFile;
}

/**
 * A private sshd on 127.0.0.1 (scripts/vscode-host/sshd-fixture.ts) for the ssh parts of the
 * editor tests; undefined where no sshd is installed. stop() ends it.
 */
export async function startSshdFixture() {
  if (!fs.existsSync(process.env.SSHD_BIN ?? '/usr/sbin/sshd')) {
    return undefined;
  }
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'scripts', 'vscode-host', 'sshd-fixture.ts')],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const line = await new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl >= 0) {
        resolve(buffer.slice(0, nl));
      }
    });
    child.on('exit', (code) => reject(new Error(`the sshd fixture exited (${code})`)));
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    ...JSON.parse(line),
    stop: async () => {
      child.stdin.end();
      await Promise.race([exited, sleep(5000)]);
    },
  };
}

/**
 * A UI walk in the browser workbench against the packaged .vsix: fresh state and a workspace (made
 * by `workspace(outside)`) outside this repository, so that the .vsix must do alone (nothing can
 * resolve a module, such as ssh2's or msgpackr's optional native parts, from this repository's
 * node_modules); code-server with the extension installed; chromium on the workspace.
 * `steps({ page, shot, workspace, outside, dir })` walks; `shot(label)` saves the next numbered
 * screenshot in <dir>/screenshots. A failure is logged with 99-failure.png; the workbench's logs
 * (the Execnet log among them) are kept beside the screenshots; everything started is stopped.
 * Resolves true when the steps passed.
 */
export async function uiWalk({ name, dir, vsix, settings = {}, env = {}, workspace }, steps) {
  const shots = path.join(dir, 'screenshots');
  fs.mkdirSync(shots, { recursive: true });
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), `execnet-${name}-`));
  const state = prepareState(outside, {
    'security.workspace.trust.enabled': false,
    'workbench.panel.defaultLocation': 'bottom',
    ...settings,
  });
  let step = 0;
  let ok = false;
  let host;
  let browser;
  try {
    const folder = workspace(outside);
    installExtension(state, vsix);
    host = await startCodeServer(state, { logFile: path.join(dir, 'code-server.log'), env });
    log(`${name}: code-server at ${host.url} (pid ${host.pid}); screenshots in ${shots}`);
    browser = await launchBrowser();
    const { page } = browser;
    const shot = async (label) => {
      const file = path.join(shots, `${String(++step).padStart(2, '0')}-${label}.png`);
      await page.screenshot({ path: file });
      log(`${name}: ${path.basename(file)}`);
      return file;
    };
    try {
      page.on('pageerror', (e) =>
        fs.appendFileSync(path.join(dir, 'browser.log'), `${e.message}\n`),
      );
      await page.goto(`${host.url}?folder=${encodeURIComponent(folder)}`);
      await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
      await steps({ page, shot, workspace: folder, outside, dir });
      ok = true;
    } catch (error) {
      log(`${name}: FAILED: ${error instanceof Error ? error.message : error}`);
      await page.screenshot({ path: path.join(shots, '99-failure.png') }).catch(() => undefined);
    }
  } finally {
    await browser?.close();
    await host?.stop();
    const logs = path.join(state.userData, 'logs');
    if (fs.existsSync(logs)) {
      fs.cpSync(logs, path.join(dir, 'logs'), { recursive: true });
    }
    fs.rmSync(outside, { recursive: true, force: true });
  }
  log(`${name}: ${ok ? 'passed' : 'failed'} (${step} screenshots in ${shots})`);
  return ok;
}
