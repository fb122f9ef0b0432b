// Gateway specs: execnet's `key=value//key2//...` strings, parsed into a typed GatewaySpec and
// formatted back. Every rejection is a SpecError naming the offending item, and
// parseSpec(formatSpec(s)) deep-equals s apart from `raw`.

import { parse as shellParse, quote as shellQuote } from 'shell-quote';
import { SpecError } from './errors';

export type GatewayType = 'popen' | 'ssh' | 'socket' | 'vagrant_ssh';
export type ExecModel = 'thread' | 'main_thread_only' | 'eventlet' | 'gevent';

/**
 * The ssh argument string of `ssh=...`, parsed the way OpenSSH reads its command line.
 * `port` and `user` come from `-p`/`-l` or the destination only, not from `-o Port=...`.
 * `extraArgs` holds the other ssh options (with their values), to go before the host.
 */
export interface SshTarget {
  host: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  options: Record<string, string>;
  jump?: string;
  configFile?: string;
  extraArgs: string[];
}

export interface GatewaySpec {
  readonly raw: string; // the input string
  readonly type: GatewayType;
  readonly ssh?: SshTarget & { readonly raw: string };
  /** Unset for `socket//installvia=ID`, where the server is started on another gateway. */
  readonly socket?: { readonly host: string; readonly port: number };
  readonly vagrantSsh?: string;
  readonly id?: string;
  readonly python?: readonly string[]; // argv; undefined = default interpreter
  readonly chdir?: string;
  readonly nice?: number;
  readonly env: Readonly<Record<string, string>>;
  readonly dontWriteBytecode: boolean;
  readonly execmodel: ExecModel;
  readonly via?: string;
  readonly installvia?: string;
  readonly sshConfig?: string;
  /** Run the system `ssh` (this path, or `ssh` from PATH) instead of the built-in client. */
  readonly sshBinary?: string;
  /** Run the interpreter as this user through sudo (on the gateway's host). */
  readonly sudo?: string;
  /** A file whose contents are the socket server's shared secret. */
  readonly socketKey?: string;
  /** Talk TLS to the socket server (verified against the system CAs, or `tlsCa`). */
  readonly tls?: boolean;
  /** A CA (or the server's own self-signed certificate) to verify the socket server with. */
  readonly tlsCa?: string;
}

/** Every key a spec may hold, for completion; `env:` is followed by a variable name. */
export const SPEC_KEYS: readonly string[] = [
  'popen',
  'ssh',
  'socket',
  'vagrant_ssh',
  'id',
  'python',
  'chdir',
  'nice',
  'env:',
  'dont_write_bytecode',
  'execmodel',
  'via',
  'installvia',
  'ssh_config',
  'ssh_binary',
  'sudo',
  'socket_key',
  'tls',
  'tls_ca',
];

const TYPES: readonly string[] = ['popen', 'ssh', 'socket', 'vagrant_ssh'];
const EXEC_MODELS: readonly ExecModel[] = ['thread', 'main_thread_only', 'eventlet', 'gevent'];
const START_HINT = 'start the spec with popen, ssh=HOST, socket=HOST:PORT or vagrant_ssh=NAME';

/** What each valued key looks like, for "write key=..." hints. */
const PLACEHOLDERS: Readonly<Record<string, string>> = {
  ssh: 'HOST',
  socket: 'HOST:PORT',
  vagrant_ssh: 'NAME',
  id: 'ID',
  python: 'PATH',
  chdir: 'PATH',
  nice: 'N',
  execmodel: 'MODEL',
  via: 'ID',
  installvia: 'ID',
  ssh_config: 'PATH',
  ssh_binary: 'PATH',
  sudo: 'USER',
  socket_key: 'PATH',
  tls_ca: 'PATH',
};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Parses a spec string; throws SpecError naming the offending item. */
export function parseSpec(spec: string): GatewaySpec {
  if (spec.trim() === '') {
    throw new SpecError(`empty spec: ${START_HINT}`, spec);
  }
  const env: Record<string, string> = {};
  const out: Mutable<Omit<GatewaySpec, 'type'>> & { type?: GatewayType } = {
    raw: spec,
    env,
    dontWriteBytecode: false,
    execmodel: 'thread',
  };
  const items = spec.split('//');
  const seen = new Map<string, string>(); // key -> the item that set it
  let typeItem: string | undefined;
  let bareSocket = false;

  items.forEach((item, index) => {
    if (item.trim() === '') {
      const where =
        index === 0
          ? 'at the start'
          : index === items.length - 1
            ? 'at the end'
            : `after '${items[index - 1]}'`;
      throw new SpecError(
        `empty item ${where} of '${spec}' — items are separated by a single '//'`,
        spec,
      );
    }
    const eq = item.indexOf('=');
    const key = eq === -1 ? item : item.slice(0, eq);
    const value = eq === -1 ? undefined : item.slice(eq + 1);
    checkKey(key, item);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new SpecError(
        `duplicate key '${key}' in '${item}' — '${earlier}' already sets it`,
        item,
      );
    }
    seen.set(key, item);
    if (TYPES.includes(key)) {
      if (typeItem !== undefined) {
        throw new SpecError(
          `two gateway types, '${typeItem}' and '${item}' — a spec has exactly one`,
          item,
        );
      }
      typeItem = item;
      out.type = key as GatewayType;
    }

    if (key.startsWith('env:')) {
      // An empty value is a legitimate setting: it sets the variable to ''.
      if (value === undefined) {
        throw new SpecError(`missing value in '${item}' — write ${key}=VALUE`, item);
      }
      env[key.slice(4)] = value;
      return;
    }
    switch (key) {
      case 'popen':
        flag(key, value, item);
        break;
      case 'dont_write_bytecode':
        out.dontWriteBytecode = bytecodeFlag(value, item);
        break;
      case 'ssh':
        out.ssh = parseSsh(required(key, value, item), item);
        break;
      case 'socket':
        // A bare `socket` is how execnet asks installvia to start the server; checked below.
        if (value === undefined) {
          bareSocket = true;
        } else {
          out.socket = parseSocket(required(key, value, item), item);
        }
        break;
      case 'vagrant_ssh':
        out.vagrantSsh = word(key, value, item, 'a Vagrant machine name');
        break;
      case 'id':
        out.id = gatewayId(key, value, item);
        break;
      case 'via':
        out.via = gatewayId(key, value, item);
        break;
      case 'installvia':
        out.installvia = gatewayId(key, value, item);
        break;
      case 'python': {
        const argv = shellWords(required(key, value, item), item);
        if (argv.length === 0) {
          throw new SpecError(
            `empty python in '${item}' — write python=PATH, or leave it out for the default`,
            item,
          );
        }
        out.python = argv;
        break;
      }
      case 'chdir':
        out.chdir = required(key, value, item);
        break;
      case 'nice':
        out.nice = parseNice(required(key, value, item), item);
        break;
      case 'execmodel':
        out.execmodel = parseExecModel(required(key, value, item), item);
        break;
      case 'ssh_config':
        out.sshConfig = required(key, value, item);
        break;
      case 'ssh_binary':
        // bare: `ssh` from PATH, like execnet
        out.sshBinary = value === undefined ? 'ssh' : required(key, value, item);
        break;
      case 'sudo':
        out.sudo = word(key, value, item, 'a user name');
        break;
      case 'socket_key':
        out.socketKey = required(key, value, item);
        break;
      case 'tls':
        flag(key, value, item);
        out.tls = true;
        break;
      case 'tls_ca':
        out.tlsCa = required(key, value, item);
        out.tls = true;
        break;
    }
  });

  if (out.type === undefined) {
    throw new SpecError(`no gateway type: ${START_HINT}`, spec);
  }
  const parsed: GatewaySpec = { ...out, type: out.type };
  checkCombination(parsed, seen, bareSocket);
  return omitUndefined(parsed);
}

/** The canonical spec string: type first, then options in SPEC_KEYS order, defaults left out. */
export function formatSpec(spec: GatewaySpec): string {
  const items: string[] = [typeItem(spec)];
  const add = (key: string, value: string | undefined): void => {
    if (value !== undefined) {
      items.push(`${key}=${value}`);
    }
  };
  add('id', spec.id);
  add('python', spec.python && shellQuote(spec.python));
  add('chdir', spec.chdir);
  add('nice', spec.nice?.toString());
  for (const [name, value] of Object.entries(spec.env)) {
    add(`env:${name}`, value);
  }
  if (spec.dontWriteBytecode) {
    items.push('dont_write_bytecode');
  }
  add('execmodel', spec.execmodel === 'thread' ? undefined : spec.execmodel);
  add('via', spec.via);
  add('installvia', spec.installvia);
  add('ssh_config', spec.sshConfig);
  if (spec.sshBinary === 'ssh') {
    items.push('ssh_binary');
  } else {
    add('ssh_binary', spec.sshBinary);
  }
  add('sudo', spec.sudo);
  add('socket_key', spec.socketKey);
  if (spec.tls && spec.tlsCa === undefined) {
    items.push('tls');
  }
  add('tls_ca', spec.tlsCa);

  // 'a/' + '//' + 'b' would split as 'a', '/b': only the last item may end with a slash.
  const slashEnded = items.filter((item) => item.endsWith('/'));
  if (slashEnded.length > 1) {
    throw new SpecError(
      `cannot format: '${slashEnded[0]}' and '${slashEnded[1]}' both end with '/'`,
      slashEnded[1],
    );
  }
  const bad = items.find((item) => item.includes('//'));
  if (bad !== undefined) {
    throw new SpecError(`cannot format: '${bad}' contains '//', the item separator`, bad);
  }
  return [...items.filter((item) => !item.endsWith('/')), ...slashEnded].join('//');
}

/** The same spec with its id set (as a group does for specs without one); raw becomes canonical. */
export function withId(spec: GatewaySpec, id: string): GatewaySpec {
  gatewayId('id', id, `id=${id}`);
  return parseSpec(formatSpec({ ...spec, id }));
}

/** The error message for an invalid spec, or undefined when it parses: for as-you-type validation. */
export function validateSpec(text: string): string | undefined {
  try {
    parseSpec(text);
    return undefined;
  } catch (error) {
    if (error instanceof SpecError) {
      return error.message;
    }
    throw error;
  }
}

function typeItem(spec: GatewaySpec): string {
  switch (spec.type) {
    case 'popen':
      return 'popen';
    case 'ssh':
      return `ssh=${spec.ssh?.raw ?? ''}`;
    case 'socket':
      if (spec.socket === undefined) {
        return 'socket';
      }
      // IPv6 hosts need brackets, or their colons would read as the port separator.
      return spec.socket.host.includes(':')
        ? `socket=[${spec.socket.host}]:${spec.socket.port}`
        : `socket=${spec.socket.host}:${spec.socket.port}`;
    case 'vagrant_ssh':
      return `vagrant_ssh=${spec.vagrantSsh ?? ''}`;
  }
}

function checkKey(key: string, item: string): void {
  if (key === '') {
    throw new SpecError(`missing key in '${item}' — items look like key=value`, item);
  }
  if (/\s/.test(key)) {
    // execnet does not trim, so 'popen ' would be an unknown key there: say so rather than guess.
    throw new SpecError(
      `key '${key}' in '${item}' contains whitespace — keys have no spaces, even around '//'`,
      item,
    );
  }
  if (key === 'env' || key.startsWith('env:')) {
    const name = key.slice(4);
    if (name === '') {
      throw new SpecError(`missing variable name in '${item}' — write env:NAME=VALUE`, item);
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new SpecError(
        `bad variable name '${name}' in '${item}' — use letters, digits and _, not starting with a digit`,
        item,
      );
    }
    return;
  }
  if (!SPEC_KEYS.includes(key)) {
    const suggestion = nearestKey(key);
    const hint = suggestion
      ? `did you mean '${suggestion}'?`
      : `valid keys: ${SPEC_KEYS.map((k) => (k === 'env:' ? 'env:NAME' : k)).join(', ')}`;
    throw new SpecError(`unknown key '${key}' in '${item}' — ${hint}`, item);
  }
}

/** Checks that need the whole spec: which options make sense with which gateway type. */
function checkCombination(
  spec: GatewaySpec,
  seen: ReadonlyMap<string, string>,
  bareSocket: boolean,
): void {
  const item = (key: string): string => seen.get(key) ?? key;
  if (bareSocket && spec.installvia === undefined) {
    throw new SpecError(
      `missing address in 'socket' — write socket=HOST:PORT, or add installvia=ID to start a socket server through another gateway`,
      'socket',
    );
  }
  if (spec.via !== undefined && spec.type === 'socket') {
    throw new SpecError(
      `'${item('via')}' does not work with socket gateways — via starts popen, ssh and vagrant_ssh gateways through another one`,
      item('via'),
    );
  }
  if (spec.installvia !== undefined && spec.type !== 'socket') {
    throw new SpecError(
      `'${item('installvia')}' only applies to socket gateways — it starts the socket server through another gateway`,
      item('installvia'),
    );
  }
  if (spec.python !== undefined && spec.type === 'socket') {
    throw new SpecError(
      `'${item('python')}' does not work with socket gateways — the socket server's interpreter is already running`,
      item('python'),
    );
  }
  // execnet passes ssh_config as `-F` to both ssh and `vagrant ssh`.
  if (spec.sshConfig !== undefined && spec.type !== 'ssh' && spec.type !== 'vagrant_ssh') {
    throw new SpecError(
      `'${item('ssh_config')}' only applies to ssh and vagrant_ssh gateways, not ${spec.type}`,
      item('ssh_config'),
    );
  }
  if (spec.sshBinary !== undefined && spec.type !== 'ssh') {
    throw new SpecError(
      `'${item('ssh_binary')}' only applies to ssh gateways, not ${spec.type}`,
      item('ssh_binary'),
    );
  }
  if (spec.sudo !== undefined && spec.type === 'socket') {
    throw new SpecError(
      `'${item('sudo')}' does not work with socket gateways — the socket server's interpreter is already running`,
      item('sudo'),
    );
  }
  for (const key of ['socket_key', 'tls', 'tls_ca'] as const) {
    if (seen.has(key) && spec.type !== 'socket') {
      throw new SpecError(
        `'${item(key)}' only applies to socket gateways, not ${spec.type}`,
        item(key),
      );
    }
    if (seen.has(key) && spec.installvia !== undefined) {
      throw new SpecError(
        `'${item(key)}' does not work with installvia — the server it starts makes its own secret and listens on loopback`,
        item(key),
      );
    }
  }
  if (seen.has('tls') && seen.has('tls_ca')) {
    throw new SpecError(`'${item('tls')}' is implied by '${item('tls_ca')}'; leave it out`, 'tls');
  }
  for (const key of ['via', 'installvia'] as const) {
    if (spec.id !== undefined && spec[key] === spec.id) {
      throw new SpecError(
        `'${item(key)}' names the gateway itself — ${key} must be another gateway's id`,
        item(key),
      );
    }
  }
}

function flag(key: string, value: string | undefined, item: string): void {
  if (value !== undefined) {
    throw new SpecError(
      `unexpected value in '${item}' — ${key} takes none; write just '${key}'`,
      item,
    );
  }
}

/**
 * Bare, `=1` and `=true` all turn the flag on, as in execnet. `=0`/`=false` are refused because
 * execnet reads any value as true: accepting them as false would make the spec mean opposite things.
 */
function bytecodeFlag(value: string | undefined, item: string): boolean {
  if (value === undefined || /^(1|true)$/i.test(value)) {
    return true;
  }
  const hint = /^(0|false|no|off)$/i.test(value)
    ? 'execnet would read it as true; leave dont_write_bytecode out instead'
    : "it is a flag; write just 'dont_write_bytecode'";
  throw new SpecError(`unexpected value in '${item}' — ${hint}`, item);
}

function required(key: string, value: string | undefined, item: string): string {
  if (value === undefined || value === '') {
    const what = value === undefined ? 'missing' : 'empty';
    throw new SpecError(`${what} value in '${item}' — write ${key}=${PLACEHOLDERS[key]}`, item);
  }
  return value;
}

function word(key: string, value: string | undefined, item: string, what: string): string {
  const text = required(key, value, item);
  if (/\s/.test(text)) {
    throw new SpecError(`bad ${key} in '${item}' — ${what} has no whitespace`, item);
  }
  return text;
}

function gatewayId(key: string, value: string | undefined, item: string): string {
  const id = required(key, value, item);
  if (!/^[A-Za-z0-9_.-]+$/.test(id)) {
    throw new SpecError(
      `bad gateway id '${id}' in '${item}' — use letters, digits, '_', '-' and '.'`,
      item,
    );
  }
  return id;
}

function parseNice(value: string, item: string): number {
  const nice = /^[+-]?\d+$/.test(value) ? Number(value) : NaN;
  if (!(nice >= -20 && nice <= 19)) {
    throw new SpecError(`bad nice in '${item}' — expected an integer from -20 to 19`, item);
  }
  return nice;
}

function parseExecModel(value: string, item: string): ExecModel {
  const model = EXEC_MODELS.find((m) => m === value);
  if (model === undefined) {
    throw new SpecError(
      `unknown execmodel '${value}' in '${item}' — use ${EXEC_MODELS.join(', ')}`,
      item,
    );
  }
  return model;
}

function parsePort(text: string, item: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new SpecError(
      `bad port '${text}' in '${item}' — expected a number from 1 to 65535`,
      item,
    );
  }
  return port;
}

/** `host:port` or `[ipv6]:port`. */
function parseSocket(value: string, item: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(value);
  const colon = value.lastIndexOf(':');
  if (!bracketed && colon === -1) {
    throw new SpecError(
      `missing port in '${item}' — write socket=HOST:PORT, e.g. socket=192.168.1.4:8888`,
      item,
    );
  }
  const host = bracketed ? bracketed[1] : value.slice(0, colon);
  const port = bracketed ? bracketed[2] : value.slice(colon + 1);
  if (host === '' || /\s/.test(host)) {
    throw new SpecError(
      `bad host in '${item}' — write socket=HOST:PORT, e.g. socket=192.168.1.4:8888`,
      item,
    );
  }
  if (!bracketed && host.includes(':')) {
    throw new SpecError(
      `bad address in '${item}' — put IPv6 addresses in brackets: socket=[::1]:8888`,
      item,
    );
  }
  return { host, port: parsePort(port, item) };
}

// ssh(1) options that take an argument; every other letter is a flag.
const SSH_OPTIONS_WITH_ARGUMENT = new Set('BbcDEeFIiJLlmOoPpQRSWw');

/** Reads the ssh arguments like OpenSSH: options anywhere, `-l`/`-p` first wins, one destination. */
function parseSsh(raw: string, item: string): SshTarget & { raw: string } {
  const args = shellWords(raw, item);
  const target: SshTarget = { host: '', identityFiles: [], options: {}, extraArgs: [] };
  let host: string | undefined;
  let optionsEnded = false;

  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!optionsEnded && arg === '--') {
      optionsEnded = true;
    } else if (!optionsEnded && arg.startsWith('-') && arg.length > 1) {
      // getopt-style bundles: -vC, -p2222, -Cp 2222.
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j];
        if (!SSH_OPTIONS_WITH_ARGUMENT.has(letter)) {
          target.extraArgs.push(`-${letter}`);
          continue;
        }
        const argument = j + 1 < arg.length ? arg.slice(j + 1) : args[++i];
        if (argument === undefined) {
          throw new SpecError(`missing argument to ssh option -${letter} in '${item}'`, item);
        }
        sshOption(target, letter, argument, item);
        break;
      }
    } else if (host === undefined) {
      host = sshDestination(target, arg, item);
    } else {
      // ssh would run these words as the remote command, in front of the bootstrap execnet sends.
      throw new SpecError(
        `unexpected '${arg}' after the host in '${item}' — to wrap the interpreter use python=..., e.g. python=sudo python3`,
        item,
      );
    }
  }
  if (host === undefined) {
    throw new SpecError(`missing host in '${item}' — write ssh=HOST or ssh=OPTIONS HOST`, item);
  }
  return omitUndefined({ ...target, host, raw });
}

function sshOption(target: SshTarget, letter: string, argument: string, item: string): void {
  switch (letter) {
    case 'p':
      target.port ??= parsePort(argument, item);
      break;
    case 'l':
      target.user ??= argument;
      break;
    case 'i':
      target.identityFiles.push(argument);
      break;
    case 'F':
      target.configFile = argument;
      break;
    case 'J':
      if (target.jump !== undefined) {
        throw new SpecError(
          `more than one -J in '${item}' — ssh allows a single -J; separate jump hosts with ','`,
          item,
        );
      }
      target.jump = argument;
      break;
    case 'o': {
      // ssh accepts both `-o Key=Value` and `-o "Key Value"`; the first value of a key wins.
      const match = /^\s*([^\s=]+)\s*(?:=|\s)\s*(.*?)\s*$/.exec(argument);
      if (!match) {
        throw new SpecError(
          `bad ssh option '-o ${argument}' in '${item}' — write -o Key=Value`,
          item,
        );
      }
      target.options[match[1]] ??= match[2];
      break;
    }
    default:
      target.extraArgs.push(`-${letter}`, argument);
  }
}

/**
 * `[user@]host`, split at the last '@' as ssh does. (ssh:// URIs cannot occur: '//' would end
 * the item.)
 */
function sshDestination(target: SshTarget, arg: string, item: string): string {
  const at = arg.lastIndexOf('@');
  const user = at === -1 ? undefined : arg.slice(0, at);
  const host = arg.slice(at + 1);
  if (host === '' || user === '') {
    throw new SpecError(`bad destination '${arg}' in '${item}' — write HOST or USER@HOST`, item);
  }
  target.user ??= user;
  return host;
}

/**
 * Splits shell-style words with shell-quote, keeping what execnet users rely on: `$` and `#` are
 * literal (execnet's shlex neither expands nor strips them), and a backslash before a letter,
 * digit or `._-` stays literal so Windows paths like C:\Python312\python.exe survive unquoted.
 * Unclosed quotes and shell operators are errors: no shell ever sees these words.
 */
function shellWords(text: string, item: string): string[] {
  let escaped = '';
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const next = text[i + 1];
    if (quote === "'") {
      quote = c === "'" ? undefined : quote;
      escaped += c;
    } else if (c === '\\') {
      const literal = next === undefined || (quote === undefined && /[\w.-]/.test(next));
      escaped += literal ? '\\\\' : c + next;
      i += literal ? 0 : 1;
    } else if (c === '$' || (c === '#' && quote === undefined)) {
      escaped += `\\${c}`;
    } else {
      if (c === '"') {
        quote = quote === '"' ? undefined : '"';
      } else if (c === "'" && quote === undefined) {
        quote = "'";
      }
      escaped += c;
    }
  }
  if (quote !== undefined) {
    throw new SpecError(`unclosed ${quote} quote in '${item}'`, item);
  }
  return shellParse(escaped).map((entry) => {
    if (typeof entry === 'string') {
      return entry;
    }
    if ('op' in entry && entry.op === 'glob') {
      return entry.pattern; // nothing expands globs: the pattern is the word
    }
    const op = 'op' in entry ? entry.op : '#';
    throw new SpecError(
      `shell operator '${op}' in '${item}' — no shell runs this; quote it if it is part of a name`,
      item,
    );
  });
}

/** The valid key closest to a mistyped one: small edit distance, or a prefix such as 'vagrant'. */
function nearestKey(key: string): string | undefined {
  // 'evn:HOME' should suggest 'env:HOME', so the env candidate carries the typed name.
  const candidates = SPEC_KEYS.map((k) =>
    k === 'env:' && key.includes(':') ? `env:${key.slice(key.indexOf(':') + 1)}` : k,
  );
  const lower = key.toLowerCase();
  const prefixed = candidates.find((c) => key.length >= 3 && c.startsWith(lower));
  if (prefixed !== undefined) {
    return prefixed;
  }
  let best: { key: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (best === undefined || distance < best.distance) {
      best = { key: candidate, distance };
    }
  }
  const close =
    best !== undefined &&
    best.distance <= Math.max(2, Math.floor(key.length / 3)) &&
    best.distance < key.length;
  return close ? best?.key : undefined;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions ('pyhton'). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/** Drops undefined fields, so parsed specs deep-equal whether or not a field was ever assigned. */
function omitUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
