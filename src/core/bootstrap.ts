// What starts the remote side: a one-line `python -c` program that reads the real source from
// stdin, and that source (a CONFIG literal, codec.py and gateway.py). The sources are read and
// compressed once per process; only the small config part differs between gateways.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { userCacheDir } from './cache';
import { onThisMachine, type GatewaySpec } from './spec';
import { PROTOCOL_VERSION } from './protocol';
import { formatValue } from './repr';
import { trace } from './trace';

const REMOTE_FILES = ['codec.py', 'gateway.py'];

let compressed: Buffer | undefined;
/** SHA-256 of the remote source: compiled code on disk is only used for this very source. */
let sourceDigest = '';

/** Where the Python sources live: `remote/` beside this module, in the bundle and in src alike. */
export function remoteSourceDir(): string {
  return path.join(__dirname, 'remote');
}

function compressedSources(): Buffer {
  if (!compressed) {
    const dir = remoteSourceDir();
    const source = REMOTE_FILES.map((name) => fs.readFileSync(path.join(dir, name), 'utf8')).join(
      '\n\n',
    );
    compressed = zlib.deflateSync(Buffer.from(source, 'utf8'), { level: 9 });
    sourceDigest = crypto.createHash('sha256').update(source).digest('hex');
  }
  return compressed;
}

export interface RemoteConfig {
  readonly id: string;
  readonly chdir?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly nice?: number;
  readonly dont_write_bytecode: boolean;
  readonly execmodel: string;
  readonly debug: number;
  readonly protocol: number;
  /**
   * A local child (popen): die when the process that started it ends (Linux), and end at once
   * if that is not this pid (0: some process between us, sudo, so do not check).
   */
  readonly die_with_parent?: number;
}

export function remoteConfig(spec: GatewaySpec, id: string, debug: number): RemoteConfig {
  return {
    id,
    chdir: spec.chdir,
    env: spec.env,
    nice: spec.nice,
    dont_write_bytecode: spec.dontWriteBytecode,
    execmodel: spec.execmodel,
    debug,
    protocol: PROTOCOL_VERSION,
    die_with_parent: onThisMachine(spec) ? (spec.sudo === undefined ? process.pid : 0) : undefined,
  };
}

export interface Bootstrap {
  /** The program for `python -c`. */
  readonly line: string;
  /** The bytes to write to the interpreter's stdin right after it starts. */
  readonly payload: Buffer;
}

/**
 * Compiling the remote source costs a fresh interpreter ~10 ms, most of a gateway's start-up
 * beyond the interpreter's own. The remote returns its compiled code (bytecode magic + marshal)
 * in the handshake, and later starts of the same interpreter send that instead; the bootstrap
 * line checks the magic number, so a changed interpreter just compiles the source again.
 * What a remote hands back runs in later starts, so it is only ever reused for starts of the
 * very same kind (see interpreterKey), and only taken from the handshake, before any remote
 * code runs (the gateway refuses a handshake frame later on).
 */
const compiledCache = new Map<string, Buffer>();

/**
 * Which interpreter, run by which user, a spec starts, as far as the local side can tell before
 * it runs: the whole spec but its id (the host, python=, sudo=, chdir=, env...), and for via=
 * and installvia= the key of the gateway it goes through (`through`). A remote can thus affect
 * only starts that it could have affected anyway.
 */
export function interpreterKey(
  spec: GatewaySpec,
  through: (id: string) => string | undefined = () => undefined,
): string {
  // the typed fields say everything; raw and xspec hold the id too
  const { raw: _raw, xspec: _xspec, id: _id, ...rest } = spec;
  const hops = [spec.via, spec.installvia].map((id) =>
    id === undefined ? null : (through(id) ?? `unknown ${id}`),
  );
  return JSON.stringify([rest, hops, spec.python ? null : (process.env.EXECNET_PYTHON ?? null)]);
}

/**
 * Whether compiled code of the interpreter a spec starts is also kept on disk: for interpreters
 * of this machine and user (popen, no sudo, no via), which every run of the CLI starts afresh
 * (compiling the remote source costs such a start ~35 ms). A remote's code stays in memory.
 */
export function keepsCompiledOnDisk(spec: GatewaySpec): boolean {
  return onThisMachine(spec) && spec.sudo === undefined;
}

/** The file for an interpreter's compiled code of this source, in a folder only we can use. */
function compiledFile(key: string): string {
  compressedSources();
  const name = crypto.createHash('sha256').update(`${key}\0${sourceDigest}`).digest('hex');
  return path.join(userCacheDir(), 'compiled', `${name.slice(0, 40)}.code`);
}

/** A file written by compiledToDisk: a SHA-256 of the code, then the code (magic + marshal). */
function compiledFromDisk(key: string): Buffer | undefined {
  const file = compiledFile(key);
  try {
    const st = fs.statSync(file);
    // ours, and nobody else may have written it: it runs in the interpreter
    if (st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) {
      return undefined;
    }
    const data = fs.readFileSync(file);
    const code = data.subarray(32);
    if (
      code.length > 4 &&
      crypto.createHash('sha256').update(code).digest().equals(data.subarray(0, 32))
    ) {
      return code;
    }
  } catch {
    // none yet, or unreadable: compile
  }
  return undefined;
}

/** Files of other sources (earlier versions) are dropped a month after their last use. */
const STALE_MS = 30 * 24 * 3600 * 1000;

function compiledToDisk(key: string, code: Buffer): void {
  const file = compiledFile(key);
  const dir = path.dirname(file);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of fs.readdirSync(dir)) {
      const other = path.join(dir, name);
      if (name.endsWith('.code') && Date.now() - fs.statSync(other).atimeMs > STALE_MS) {
        fs.rmSync(other, { force: true });
      }
    }
    fs.writeFileSync(
      tmp,
      Buffer.concat([crypto.createHash('sha256').update(code).digest(), code]),
      {
        mode: 0o600,
      },
    );
    fs.renameSync(tmp, file);
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    trace(`compiled remote code not kept in ${file}: ${(error as Error).message}`);
  }
}

export function rememberCompiled(key: string, code: Buffer, onDisk = false): void {
  compiledCache.set(key, code);
  if (onDisk) {
    compiledToDisk(key, code);
  }
}

export function makeBootstrap(
  config: RemoteConfig,
  interpreter?: string,
  onDisk = false,
): Bootstrap {
  const head = Buffer.from(`CONFIG = ${formatValue(config)}\n`, 'utf8');
  let compiled = interpreter === undefined ? undefined : compiledCache.get(interpreter);
  if (compiled === undefined && interpreter !== undefined && onDisk) {
    compiled = compiledFromDisk(interpreter);
    if (compiled) {
      compiledCache.set(interpreter, compiled);
    }
  }
  compiled ??= Buffer.alloc(0);
  const body = compressedSources();
  const line =
    // the current directory leaves sys.path while the gateway imports its modules (a user's
    // threading.py must not replace ours); gateway.py puts it back for the code it runs
    // Python 2 and 3.5 stop here with a sentence, not an ImportError of the line below
    `import sys;sys.version_info<(3,6) and sys.exit('execnet: Python %s is too old for a gateway: it needs Python 3.6 or newer'%sys.version.split()[0]);` +
    `_boot_path0=sys.path.pop(0) if sys.path[:1]==[''] else None;` +
    `import zlib,marshal,_frozen_importlib_external as e;r=sys.stdin.buffer.read;` +
    `exec(r(${head.length}));m=r(${compiled.length});s=r(${body.length});` +
    `_boot_cached=m[:4]==e.MAGIC_NUMBER;` +
    `_boot_code=marshal.loads(m[4:]) if _boot_cached else ` +
    `compile(zlib.decompress(s),'<execnet-remote>','exec');exec(_boot_code)`;
  return { line, payload: Buffer.concat([head, compiled, body]) };
}
