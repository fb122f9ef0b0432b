// B9 (bench/README.md): debugging to the first stop. The same program (a loop calling a function of
// a sibling module) is launched with one breakpoint in the module, through the editor's DAP start
// sequence, and the time from opening the session to the `stopped` event is taken — on gateways of
// each kind (already running, as when the user presses F5 on a gateway in the tree) and, as the
// floor, with debugpy's own adapter started locally over stdio (what a local debugger pays).
// Rounds rotate the order of the cases. Prints a markdown table and one JSON line (last on stdout).
//
//   node --import tsx bench/b9_debug.ts [--rounds 5] [--quick]
//
// Needs python3-debugpy for /usr/bin/python3, openssh-server for the ssh cases, and a pyenv
// CPython 3.12 (without debugpy) for the shipped-debugpy cases.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { GatewayDebugAdapter } from '../src/core/debug/adapter';
import { localDebugpy } from '../src/core/debug/debugpy';
import { DebugRelay } from '../src/core/debug/relay';
import { Emitter } from '../src/core/events';
import type { Gateway } from '../src/core/gateway';
import { Group } from '../src/core/group';
import { DapClient, type AdapterLike } from '../test/helpers/dap';
import { runToFirstStop } from '../test/helpers/debug';
import { writeFixture, type DebugFixture } from '../test/helpers/debugProgram';
import { findPythons } from '../test/helpers/pythons';
import { startSshd, sshdAvailable, type Sshd } from '../test/helpers/sshd';
import { emitLine, loadavg, log, median } from './lib/stats';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const rounds = Number(opts.rounds ?? (opts.quick ? 1 : 5));
const SYSTEM_PYTHON = '/usr/bin/python3';

/** debugpy's adapter as a local child speaking DAP on stdio: the floor. */
class StdioAdapter implements AdapterLike {
  private readonly emitter = new Emitter<DebugProtocol.ProtocolMessage>();
  readonly onDidSendMessage = this.emitter.event;
  private buffer = Buffer.alloc(0);

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) {
          return;
        }
        const length = Number(
          /Content-Length:\s*(\d+)/i.exec(this.buffer.subarray(0, end).toString())?.[1],
        );
        if (this.buffer.length < end + 4 + length) {
          return;
        }
        const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
        this.buffer = this.buffer.subarray(end + 4 + length);
        this.emitter.fire(JSON.parse(body));
      }
    });
  }

  handleMessage(message: DebugProtocol.ProtocolMessage): void {
    const body = Buffer.from(JSON.stringify(message), 'utf8');
    this.child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.child.stdin.write(body);
  }
}

interface Case {
  readonly name: string;
  /** ms from opening the session to the first stop, and (ours) to the relay being open. */
  run(): Promise<{ total: number; open?: number }>;
  readonly samples: number[];
  readonly openSamples: number[];
}

async function firstStop(fixture: DebugFixture, dap: DapClient): Promise<void> {
  await runToFirstStop(
    dap,
    { program: fixture.program, cwd: fixture.dir, console: 'internalConsole' },
    { [fixture.module]: [fixture.line('gross')] },
  );
  await dap.request('disconnect', { terminateDebuggee: true });
}

function floorCase(fixture: DebugFixture, name: string, python: string, pythonPath?: string): Case {
  return {
    name,
    samples: [],
    openSamples: [],
    async run() {
      const t0 = performance.now();
      const child = spawn(python, ['-m', 'debugpy.adapter'], {
        env: {
          ...process.env,
          PYDEVD_DISABLE_FILE_VALIDATION: '1',
          ...(pythonPath ? { PYTHONPATH: pythonPath } : {}),
        },
      });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      await firstStop(fixture, new DapClient(new StdioAdapter(child)));
      const total = performance.now() - t0;
      child.stdin.end();
      await exited;
      return { total };
    },
  };
}

function gatewayCase(
  name: string,
  gateway: Gateway,
  fixture: DebugFixture,
  cacheDir: string,
): Case {
  return {
    name,
    samples: [],
    openSamples: [],
    async run() {
      const t0 = performance.now();
      const relay = await DebugRelay.open(gateway, { cacheDir });
      const open = performance.now() - t0;
      const adapter = new GatewayDebugAdapter(relay);
      await firstStop(fixture, new DapClient(adapter));
      const total = performance.now() - t0;
      await new Promise<void>((resolve) =>
        relay.ended ? resolve() : relay.onDidEnd(() => resolve()),
      );
      adapter.dispose();
      return { total, open };
    },
  };
}

async function main(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-b9-'));
  const fixture = writeFixture();
  const sshd: Sshd | undefined = sshdAvailable() ? await startSshd() : undefined;
  const group = new Group('b9', sshd ? { ssh: { configFile: sshd.config } } : {});
  const cases: Case[] = [floorCase(fixture, 'debugpy alone, local (floor)', SYSTEM_PYTHON)];
  try {
    const localCache = path.join(scratch, 'local-cache');
    const py312 = findPythons().find((p) => p.version === '3.12');
    if (py312) {
      const bundle = await localDebugpy({ cacheDir: localCache });
      cases.push(
        floorCase(fixture, 'debugpy alone, local 3.12 (its floor)', py312.path, bundle.dir),
      );
    }
    const popen = await group.makeGateway(`popen//python=${SYSTEM_PYTHON}`);
    cases.push(gatewayCase('popen, debugpy of its Python', popen, fixture, localCache));
    if (py312) {
      const shipped = await group.makeGateway(
        `popen//python=${py312.path}//env:XDG_CACHE_HOME=${scratch}/remote-cache`,
      );
      cases.push(gatewayCase('popen 3.12, debugpy shipped earlier', shipped, fixture, localCache));
    }
    if (sshd) {
      const spec = `ssh=-p ${sshd.port} ${sshd.user}@127.0.0.1//python=${SYSTEM_PYTHON}`;
      const ssh = await group.makeGateway(spec);
      cases.push(gatewayCase('ssh (loopback sshd)', ssh, fixture, localCache));
      const via = await group.makeGateway(`${spec}//via=${popen.id}`);
      cases.push(gatewayCase('ssh via popen', via, fixture, localCache));
    }
    // the first session of a cache-less Python ships debugpy: once per round, a fresh cache
    let shipRound = 0;
    const shipping: Case | undefined = py312
      ? {
          name: 'popen 3.12, debugpy shipped in the session',
          samples: [],
          openSamples: [],
          async run() {
            const gateway = await group.makeGateway(
              `popen//python=${py312.path}//env:XDG_CACHE_HOME=${scratch}/fresh-${shipRound++}`,
            );
            const result = await gatewayCase('', gateway, fixture, localCache).run();
            await gateway.terminate(2);
            return result;
          },
        }
      : undefined;
    if (shipping) {
      cases.push(shipping);
    }
    // warm-up: one of each (the first session compiles debugpy's modules into its caches)
    for (const c of cases) {
      await c.run();
    }
    for (let round = 0; round < rounds; round++) {
      const order = cases.map((_, i) => cases[(i + round) % cases.length]);
      for (const c of order) {
        const { total, open } = await c.run();
        c.samples.push(total);
        if (open !== undefined) {
          c.openSamples.push(open);
        }
        log(`round ${round + 1}: ${c.name}: ${total.toFixed(0)} ms`);
      }
    }
  } finally {
    await group.terminate(3);
    await sshd?.stop();
    fixture.remove();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  // each case against debugpy alone with the same interpreter
  const floorOf = (c: Case): number =>
    median(
      (/3\.12/.test(c.name)
        ? (cases.find((f) => /local 3\.12/.test(f.name)) ?? cases[0])
        : cases[0]
      ).samples,
    );
  const rows = cases.map((c) => ({
    case: c.name,
    ms: Math.round(median(c.samples)),
    openMs: c.openSamples.length ? Math.round(median(c.openSamples)) : undefined,
    ratio: Math.round((median(c.samples) / floorOf(c)) * 100) / 100,
  }));
  process.stdout.write(
    `\nB9: open → first stop, median of ${rounds} round(s), load average ${loadavg().join(' ')}\n\n` +
      '| case | open → first stop (ms) | of it: relay open (ms) | ratio to debugpy alone (same Python) |\n|---|---|---|---|\n' +
      rows
        .map((r) => `| ${r.case} | ${r.ms} | ${r.openMs ?? ''} | ${r.ratio.toFixed(2)}× |`)
        .join('\n') +
      '\n\n',
  );
  await emitLine({ bench: 'B9', rounds, loadavg: loadavg(), rows });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
