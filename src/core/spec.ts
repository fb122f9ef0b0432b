// Gateway specs: execnet's `key=value//key2//...` strings. parseSpec reads a string the way
// execnet's XSpec does (it accepts what XSpec accepts, keeps the raw attributes in `xspec`) and
// types every value that reads; checkSpec, which makeGateway runs, refuses unknown keys, bad
// values and nonsense combinations with a SpecError naming the offending item. A checked spec
// formats back: checkSpec(formatSpec(s)) equals s apart from `raw` and `xspec`.

import { parse as shellParse, quote as shellQuote } from 'shell-quote';
import { SpecError } from './errors';
import { closestMatch } from './suggest';

export type GatewayType =
  'popen' | 'ssh' | 'socket' | 'vagrant_ssh' | 'slurm' | 'docker' | 'podman';
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

/** A spec as execnet's XSpec reads it, with our typed reading of every value that reads. */
export interface ParsedSpec {
  readonly raw: string; // the input string
  /**
   * execnet's XSpec attributes with their raw values: the text after `key=`, `true` for a bare
   * key, absent when not given (`xspec.socket` is 'host:port'; `xspec.execmodel` is unset unless
   * the spec names one). `env:NAME` items keep their key.
   */
  readonly xspec: Readonly<Record<string, string | true>>;
  /** Unset when no item names a gateway type. */
  readonly type?: GatewayType;
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
  /** `slurm[=OPTIONS]`: srun/salloc options, as shell words (`-p debug --time=10`). */
  readonly slurm?: { readonly raw: string; readonly options: readonly string[] };
  /** Run as a step of this existing job (allocation), which is not ours to cancel. */
  readonly slurmJob?: string;
  /** How many gateways (tasks) a fan-out starts on one allocation. */
  readonly slurmTasks?: number;
  /** Seconds a job may wait in the queue before it is cancelled. */
  readonly slurmPending?: number;
  /** `docker=CONTAINER` / `podman=CONTAINER`: exec into this running container. */
  readonly container?: string;
  /** `docker//image=IMAGE`: run a fresh container of this image, removed at the end. */
  readonly image?: string;
  /** More arguments for `docker|podman exec` or `run` (`-u 1000 -v /data:/data`). */
  readonly containerArgs?: readonly string[];
}

/** A spec checkSpec accepted: one gateway type, every key known, every value and combination valid. */
export interface GatewaySpec extends ParsedSpec {
  readonly type: GatewayType;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Fields = Mutable<Omit<ParsedSpec, 'raw' | 'xspec' | 'env'>>;

/** How one key reads. A new key is a new entry here (and a field above, and formatSpec's item). */
interface KeyRule {
  /** The key names the gateway type. */
  readonly type?: true;
  /** What the value looks like, for "write key=..." hints. */
  readonly placeholder?: string;
  /** The typed fields the item sets; throws a SpecError naming `item` when the value is bad. */
  read(value: string | true, item: string, key: string): Partial<Fields>;
}

const KEY_RULES: Readonly<Record<string, KeyRule>> = {
  popen: { type: true, read: (value, item) => flag('popen', value, item) },
  ssh: {
    type: true,
    placeholder: 'HOST',
    read: (value, item) => ({ ssh: parseSsh(required('ssh', value, item), item) }),
  },
  socket: {
    type: true,
    placeholder: 'HOST:PORT',
    // A bare `socket` is how execnet asks installvia to start the server (checkSpec insists).
    read: (value, item) =>
      value === true ? {} : { socket: parseSocket(required('socket', value, item), item) },
  },
  vagrant_ssh: {
    type: true,
    placeholder: 'NAME',
    read: (value, item) => ({
      vagrantSsh: word('vagrant_ssh', value, item, 'a Vagrant machine name'),
    }),
  },
  id: { placeholder: 'ID', read: (value, item) => ({ id: gatewayId('id', value, item) }) },
  python: {
    placeholder: 'PATH',
    read: (value, item) => {
      const argv = shellWords(required('python', value, item), item);
      if (argv.length === 0) {
        throw new SpecError(
          `empty python in '${item}' — write python=PATH, or leave it out for the default`,
          item,
        );
      }
      return { python: argv };
    },
  },
  chdir: {
    placeholder: 'PATH',
    read: (value, item) => ({ chdir: required('chdir', value, item) }),
  },
  nice: {
    placeholder: 'N',
    read: (value, item) => ({ nice: parseNice(required('nice', value, item), item) }),
  },
  // An empty value is a legitimate setting: it sets the variable to ''.
  'env:': {
    placeholder: 'VALUE',
    read: (value, item, key) => {
      if (value === true) {
        throw new SpecError(`missing value in '${item}' — write ${key}=VALUE`, item);
      }
      return {};
    },
  },
  dont_write_bytecode: {
    read: (value, item) => ({ dontWriteBytecode: bytecodeFlag(value, item) }),
  },
  execmodel: {
    placeholder: 'MODEL',
    read: (value, item) => ({
      execmodel: parseExecModel(required('execmodel', value, item), item),
    }),
  },
  via: { placeholder: 'ID', read: (value, item) => ({ via: gatewayId('via', value, item) }) },
  installvia: {
    placeholder: 'ID',
    read: (value, item) => ({ installvia: gatewayId('installvia', value, item) }),
  },
  ssh_config: {
    placeholder: 'PATH',
    read: (value, item) => ({ sshConfig: required('ssh_config', value, item) }),
  },
  ssh_binary: {
    placeholder: 'PATH',
    // bare: `ssh` from PATH, like execnet
    read: (value, item) => ({
      sshBinary: value === true ? 'ssh' : required('ssh_binary', value, item),
    }),
  },
  sudo: {
    placeholder: 'USER',
    read: (value, item) => ({ sudo: word('sudo', value, item, 'a user name') }),
  },
  socket_key: {
    placeholder: 'PATH',
    read: (value, item) => ({ socketKey: required('socket_key', value, item) }),
  },
  tls: { read: (value, item) => ({ ...flag('tls', value, item), tls: true }) },
  tls_ca: {
    placeholder: 'PATH',
    read: (value, item) => ({ tlsCa: required('tls_ca', value, item), tls: true }),
  },
  slurm: {
    type: true,
    placeholder: 'OPTIONS',
    // bare: the cluster's defaults
    read: (value, item) => {
      if (value === '') {
        throw new SpecError(
          `empty value in '${item}' — write slurm=OPTIONS (srun options), or just slurm for the cluster's defaults`,
          item,
        );
      }
      return {
        slurm: {
          raw: value === true ? '' : value,
          options: value === true ? [] : shellWords(value, item),
        },
      };
    },
  },
  slurm_job: {
    placeholder: 'JOBID',
    read: (value, item) => ({ slurmJob: parseJobId(required('slurm_job', value, item), item) }),
  },
  slurm_tasks: {
    placeholder: 'N',
    read: (value, item) => ({
      slurmTasks: positiveInteger(required('slurm_tasks', value, item), item, 'a number of tasks'),
    }),
  },
  slurm_pending: {
    placeholder: 'SECONDS',
    read: (value, item) => ({
      slurmPending: positiveInteger(
        required('slurm_pending', value, item),
        item,
        'a number of seconds',
      ),
    }),
  },
  // bare docker/podman: a fresh container of image=
  docker: {
    type: true,
    placeholder: 'CONTAINER',
    read: (value, item) =>
      value === true ? {} : { container: word('docker', value, item, 'a container name or id') },
  },
  podman: {
    type: true,
    placeholder: 'CONTAINER',
    read: (value, item) =>
      value === true ? {} : { container: word('podman', value, item, 'a container name or id') },
  },
  image: {
    placeholder: 'IMAGE',
    read: (value, item) => ({ image: word('image', value, item, 'an image name') }),
  },
  container_args: {
    placeholder: 'ARGS',
    read: (value, item) => ({
      containerArgs: shellWords(required('container_args', value, item), item),
    }),
  },
};

/** Every key a spec may hold, for completion; `env:` is followed by a variable name. */
export const SPEC_KEYS: readonly string[] = Object.keys(KEY_RULES);

const EXEC_MODELS: readonly ExecModel[] = ['thread', 'main_thread_only', 'eventlet', 'gevent'];
const START_HINT =
  'start the spec with popen, ssh=HOST, socket=HOST:PORT, vagrant_ssh=NAME, slurm, docker=CONTAINER or podman=CONTAINER';

/**
 * Reads a spec as execnet's XSpec does, refusing only what XSpec refuses (an empty item, a key
 * that is empty or starts with '_', a key given twice); anything else parses, with the values
 * that read typed. makeGateway checks the rest (checkSpec).
 */
export function parseSpec(spec: string): ParsedSpec {
  if (spec === '') {
    throw new SpecError(`empty spec: ${START_HINT}`, spec);
  }
  const xspec: Record<string, string | true> = {};
  const env: Record<string, string> = {};
  const fields: Fields = { dontWriteBytecode: false, execmodel: 'thread' };
  const items = spec.split('//');
  items.forEach((item, index) => {
    if (item === '') {
      throw emptyItem(spec, items, index);
    }
    const { key, value } = splitItem(item);
    if (key === '') {
      throw new SpecError(`missing key in '${item}' — items look like key=value`, item);
    }
    if (key === 'env') {
      throw new SpecError(`missing variable name in '${item}' — write env:NAME=VALUE`, item);
    }
    if (key.startsWith('_')) {
      throw new SpecError(
        `key '${key}' in '${item}' starts with '_', which no spec key does (execnet's XSpec refuses it too)`,
        item,
      );
    }
    // XSpec lets a later env:NAME replace an earlier one; checkSpec refuses that.
    if (Object.hasOwn(xspec, key) && !key.startsWith('env:')) {
      throw duplicate(key, item, itemText(key, xspec[key]));
    }
    xspec[key] = value;
    const rule = ruleFor(key);
    if (rule === undefined) {
      return;
    }
    if (rule.type && fields.type === undefined) {
      fields.type = key as GatewayType;
    }
    if (key.startsWith('env:') && value !== true) {
      env[key.slice(4)] = value;
    }
    try {
      Object.assign(fields, rule.read(value, item, key));
    } catch (error) {
      if (!(error instanceof SpecError)) {
        throw error;
      }
      // the typed field stays unset; checkSpec reports the value
    }
  });
  return omitUndefined({ raw: spec, xspec, env, ...fields });
}

/**
 * Checks a spec before a gateway starts from it: every key known (with a "did you mean"), every
 * value valid, exactly one gateway type, and options that make sense together. Throws a
 * SpecError naming the offending item.
 */
export function checkSpec(spec: string | ParsedSpec): GatewaySpec {
  const parsed = typeof spec === 'string' ? parseSpec(spec) : spec;
  if (parsed.raw.trim() === '') {
    throw new SpecError(`empty spec: ${START_HINT}`, parsed.raw);
  }
  const items = parsed.raw.split('//');
  const seen = new Map<string, string>(); // key -> the item that set it
  let typeItem: string | undefined;
  items.forEach((item, index) => {
    if (item.trim() === '') {
      throw emptyItem(parsed.raw, items, index);
    }
    const { key, value } = splitItem(item);
    const rule = checkKey(key, item);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw duplicate(key, item, earlier);
    }
    seen.set(key, item);
    if (rule.type) {
      if (typeItem !== undefined) {
        throw new SpecError(
          `two gateway types, '${typeItem}' and '${item}' — a spec has exactly one`,
          item,
        );
      }
      typeItem = item;
    }
    rule.read(value, item, key);
  });
  if (parsed.type === undefined) {
    throw new SpecError(`no gateway type: ${START_HINT}`, parsed.raw);
  }
  const checked: GatewaySpec = { ...parsed, type: parsed.type };
  checkCombination(checked, seen);
  return checked;
}

/** The canonical spec string: type first, then options in SPEC_KEYS order, defaults left out. */
export function formatSpec(spec: GatewaySpec): string {
  const items: string[] = [typeItemOf(spec)];
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
  add('slurm_job', spec.slurmJob);
  add('slurm_tasks', spec.slurmTasks?.toString());
  add('slurm_pending', spec.slurmPending?.toString());
  add('image', spec.image);
  add('container_args', spec.containerArgs && shellQuote(spec.containerArgs));

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

/**
 * A popen gateway not started through another one: its interpreter is a child of this process
 * and sees this machine's files.
 */
export function onThisMachine(spec: ParsedSpec): boolean {
  return spec.type === 'popen' && spec.via === undefined;
}

/** How many gateways a spec starts: its slurm_tasks= for a slurm fan-out, else one. */
export function gatewayCount(spec: ParsedSpec): number {
  return spec.type === 'slurm' ? (spec.slurmTasks ?? 1) : 1;
}

/**
 * The same spec with its id set, as a group does for specs without one. As with execnet's
 * allocate_id, the id joins the attributes while `raw` stays the text as written, so messages
 * name the spec the way the user gave it.
 */
export function withId(spec: GatewaySpec, id: string): GatewaySpec {
  gatewayId('id', id, `id=${id}`);
  checkSpec(formatSpec({ ...spec, id })); // the id must fit the rest (via= may not name it)
  return { ...spec, id, xspec: { ...spec.xspec, id } };
}

/** The error message for a spec checkSpec refuses, or undefined: for as-you-type validation. */
export function validateSpec(text: string): string | undefined {
  try {
    checkSpec(text);
    return undefined;
  } catch (error) {
    if (error instanceof SpecError) {
      return error.message;
    }
    throw error;
  }
}

function typeItemOf(spec: GatewaySpec): string {
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
    case 'slurm':
      return spec.slurm && spec.slurm.raw !== '' ? `slurm=${spec.slurm.raw}` : 'slurm';
    case 'docker':
    case 'podman':
      return spec.container !== undefined ? `${spec.type}=${spec.container}` : spec.type;
  }
}

/** `key=value` splits at the first '='; a bare `key` has the value true, as in execnet. */
function splitItem(item: string): { key: string; value: string | true } {
  const eq = item.indexOf('=');
  return eq === -1
    ? { key: item, value: true }
    : { key: item.slice(0, eq), value: item.slice(eq + 1) };
}

function itemText(key: string, value: string | true): string {
  return value === true ? key : `${key}=${value}`;
}

function ruleFor(key: string): KeyRule | undefined {
  return key.startsWith('env:')
    ? KEY_RULES['env:']
    : Object.hasOwn(KEY_RULES, key)
      ? KEY_RULES[key]
      : undefined;
}

function emptyItem(spec: string, items: readonly string[], index: number): SpecError {
  const where =
    index === 0
      ? 'at the start'
      : index === items.length - 1
        ? 'at the end'
        : `after '${items[index - 1]}'`;
  return new SpecError(
    `empty item ${where} of '${spec}' — items are separated by a single '//'`,
    spec,
  );
}

function duplicate(key: string, item: string, earlier: string): SpecError {
  return new SpecError(`duplicate key '${key}' in '${item}' — '${earlier}' already sets it`, item);
}

/** The rule of a key the spec may hold; throws a SpecError for any other key. */
function checkKey(key: string, item: string): KeyRule {
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
  }
  const rule = ruleFor(key);
  if (rule === undefined) {
    const suggestion = nearestKey(key);
    const hint = suggestion
      ? `did you mean '${suggestion}'?`
      : `valid keys: ${SPEC_KEYS.map((k) => (k === 'env:' ? 'env:NAME' : k)).join(', ')}`;
    throw new SpecError(`unknown key '${key}' in '${item}' — ${hint}`, item);
  }
  return rule;
}

/** Checks that need the whole spec: which options make sense with which gateway type. */
function checkCombination(spec: GatewaySpec, seen: ReadonlyMap<string, string>): void {
  const item = (key: string): string => seen.get(key) ?? key;
  if (spec.type === 'socket' && spec.socket === undefined && spec.installvia === undefined) {
    throw new SpecError(
      `missing address in 'socket' — write socket=HOST:PORT, or add installvia=ID to start a socket server through another gateway`,
      'socket',
    );
  }
  if (spec.via !== undefined && spec.type === 'socket') {
    throw new SpecError(
      `'${item('via')}' does not work with socket gateways — via starts the other types through another gateway`,
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
  checkSlurmAndContainers(spec, seen);
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

function checkSlurmAndContainers(spec: GatewaySpec, seen: ReadonlyMap<string, string>): void {
  const item = (key: string): string => seen.get(key) ?? key;
  for (const key of ['slurm_job', 'slurm_tasks', 'slurm_pending'] as const) {
    if (spec.type !== 'slurm' && seen.has(key)) {
      throw new SpecError(
        `'${item(key)}' only applies to slurm gateways, not ${spec.type}`,
        item(key),
      );
    }
  }
  const container = spec.type === 'docker' || spec.type === 'podman';
  for (const key of ['image', 'container_args'] as const) {
    if (!container && seen.has(key)) {
      throw new SpecError(
        `'${item(key)}' only applies to docker and podman gateways, not ${spec.type}`,
        item(key),
      );
    }
  }
  if (container && spec.container !== undefined && spec.image !== undefined) {
    throw new SpecError(
      `'${item(spec.type)}' and '${item('image')}' both say where to run — ${spec.type}=CONTAINER execs into a running container, ${spec.type}//image=IMAGE runs a fresh one`,
      item('image'),
    );
  }
  if (container && spec.container === undefined && spec.image === undefined) {
    throw new SpecError(
      `missing container in '${spec.type}' — write ${spec.type}=CONTAINER to exec into a running container, or ${spec.type}//image=IMAGE for a fresh one`,
      spec.type,
    );
  }
  if (spec.sudo !== undefined && (container || spec.type === 'slurm')) {
    const hint = container
      ? `to run as another user inside the container write container_args=-u ${spec.sudo}`
      : 'jobs run as the user who submits them';
    throw new SpecError(
      `'${item('sudo')}' does not work with ${spec.type} gateways — ${hint}`,
      item('sudo'),
    );
  }
}

function flag(key: string, value: string | true, item: string): Partial<Fields> {
  if (value !== true) {
    throw new SpecError(
      `unexpected value in '${item}' — ${key} takes none; write just '${key}'`,
      item,
    );
  }
  return {};
}

/**
 * Bare, `=1` and `=true` all turn the flag on, as in execnet. `=0`/`=false` are refused because
 * execnet reads any value as true: accepting them as false would make the spec mean opposite things.
 */
function bytecodeFlag(value: string | true, item: string): boolean {
  if (value === true || /^(1|true)$/i.test(value)) {
    return true;
  }
  const hint = /^(0|false|no|off)$/i.test(value)
    ? 'execnet would read it as true; leave dont_write_bytecode out instead'
    : "it is a flag; write just 'dont_write_bytecode'";
  throw new SpecError(`unexpected value in '${item}' — ${hint}`, item);
}

function required(key: string, value: string | true, item: string): string {
  if (value === true || value === '') {
    const what = value === true ? 'missing' : 'empty';
    const placeholder = KEY_RULES[key].placeholder ?? 'VALUE';
    throw new SpecError(`${what} value in '${item}' — write ${key}=${placeholder}`, item);
  }
  return value;
}

function word(key: string, value: string | true, item: string, what: string): string {
  const text = required(key, value, item);
  if (/\s/.test(text)) {
    throw new SpecError(`bad ${key} in '${item}' — ${what} has no whitespace`, item);
  }
  return text;
}

function gatewayId(key: string, value: string | true, item: string): string {
  const id = required(key, value, item);
  if (!/^[A-Za-z0-9_.-]+$/.test(id)) {
    throw new SpecError(
      `bad gateway id '${id}' in '${item}' — use letters, digits, '_', '-' and '.'`,
      item,
    );
  }
  return id;
}

/** A Slurm job id: `1234`, or an array task `1234_7`. */
function parseJobId(value: string, item: string): string {
  if (!/^\d+(_\d+)?$/.test(value)) {
    throw new SpecError(
      `bad job id in '${item}' — write slurm_job=JOBID, e.g. slurm_job=1234`,
      item,
    );
  }
  return value;
}

function positiveInteger(value: string, item: string, what: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && Number.isSafeInteger(n))) {
    throw new SpecError(`bad value in '${item}' — expected ${what}, a whole number from 1`, item);
  }
  return n;
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

/** The valid key closest to a mistyped one ('evn:HOME' suggests 'env:HOME'). */
function nearestKey(key: string): string | undefined {
  const candidates = SPEC_KEYS.map((k) =>
    k === 'env:' && key.includes(':') ? `env:${key.slice(key.indexOf(':') + 1)}` : k,
  );
  return closestMatch(key, candidates);
}

/** Drops undefined fields, so parsed specs deep-equal whether or not a field was ever assigned. */
function omitUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
