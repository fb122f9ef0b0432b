// What OpenSSH would use to reach a host: the ssh= arguments (-p, -l, -i, -o, -J, -F) first, then
// the user's ssh_config (with Include), then the system one, first value wins, tokens (%h, %p,
// %r, ~) expanded. Only the settings the built-in client acts on are read.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import SSHConfig from 'ssh-config';
import { SpecError } from '../errors';
import type { SshTarget } from '../spec';

export type StrictHostKeyChecking = 'yes' | 'no' | 'ask' | 'accept-new';

export interface SshHostConfig {
  /** The host as the spec or the jump list names it (ssh's %n). */
  readonly alias: string;
  readonly hostName: string;
  readonly port: number;
  readonly user: string;
  /** Key files, `~` expanded, in the order they are tried. */
  readonly identityFiles: readonly string[];
  /** Whether `identityFiles` were given explicitly (else they are OpenSSH's defaults). */
  readonly identitiesOnly: boolean;
  /** The agent socket, or undefined for none. */
  readonly identityAgent?: string;
  /** `[user@]host[:port]` hops, nearest first. */
  readonly proxyJump: readonly string[];
  readonly proxyCommand?: string;
  /** Seconds; 0 = off. */
  readonly serverAliveInterval: number;
  readonly serverAliveCountMax: number;
  /** Seconds for the TCP connection; undefined = the system's. */
  readonly connectTimeout?: number;
  readonly userKnownHostsFiles: readonly string[];
  readonly globalKnownHostsFiles: readonly string[];
  readonly strictHostKeyChecking: StrictHostKeyChecking;
  readonly hashKnownHosts: boolean;
  /** The name looked up in known_hosts instead of the host (HostKeyAlias). */
  readonly hostKeyAlias?: string;
  /** No questions: passphrases, passwords and unknown hosts fail instead. */
  readonly batchMode: boolean;
  readonly pubkeyAuthentication: boolean;
  readonly passwordAuthentication: boolean;
  readonly kbdInteractiveAuthentication: boolean;
  readonly numberOfPasswordPrompts: number;
  /** The config files read, for messages. */
  readonly configFiles: readonly string[];
}

export interface ResolveOptions {
  /** The config file (ssh's -F): replaces the user's and the system's. */
  readonly configFile?: string;
  /** The user's config when no -F applies; default ~/.ssh/config. */
  readonly userConfigFile?: string;
  /** The system config; default /etc/ssh/ssh_config. */
  readonly systemConfigFile?: string;
}

const DEFAULT_IDENTITIES = ['~/.ssh/id_rsa', '~/.ssh/id_ecdsa', '~/.ssh/id_ed25519'];

function home(): string {
  return os.homedir();
}

/** `~` and `~/x` → the home folder. */
export function expandHome(file: string): string {
  if (file === '~') {
    return home();
  }
  if (file.startsWith('~/')) {
    return path.join(home(), file.slice(2));
  }
  return file;
}

/** Reads a config file with its Includes spliced in (relative ones from ~/.ssh or /etc/ssh). */
function readConfigText(file: string, base: string, depth = 0): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return '';
    }
    throw error;
  }
  if (depth > 16) {
    return '';
  }
  return text
    .split(/\r?\n/)
    .map((line) => {
      const match = /^\s*include\s*(?:=\s*|\s)(.*)$/i.exec(line);
      if (!match) {
        return line;
      }
      return splitWords(match[1])
        .flatMap((pattern) => globFiles(expandHome(pattern), base))
        .map((included) => readConfigText(included, base, depth + 1))
        .join('\n');
    })
    .join('\n');
}

/** Files matching a pattern whose last component may hold `*` and `?` (how Include is used). */
function globFiles(pattern: string, base: string): string[] {
  const absolute = path.isAbsolute(pattern) ? pattern : path.join(base, pattern);
  const dir = path.dirname(absolute);
  const name = path.basename(absolute);
  if (!/[*?]/.test(name)) {
    return [absolute];
  }
  const regex = new RegExp(
    `^${name
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  try {
    return fs
      .readdirSync(dir)
      .filter((entry) => regex.test(entry))
      .sort()
      .map((entry) => path.join(dir, entry));
  } catch {
    return [];
  }
}

function splitWords(text: string): string[] {
  const words: string[] = [];
  const regex = /"([^"]*)"|(\S+)/g;
  let match: RegExpExecArray | null;
  while ((match = regex.exec(text)) !== null) {
    words.push(match[1] ?? match[2]);
  }
  return words;
}

interface Layer {
  readonly file: string;
  readonly config: SSHConfig;
}

function loadLayers(options: ResolveOptions): Layer[] {
  if (options.configFile !== undefined) {
    const file = expandHome(options.configFile);
    if (!fs.existsSync(file)) {
      throw new SpecError(`ssh config file ${file} does not exist`, options.configFile);
    }
    return [{ file, config: SSHConfig.parse(readConfigText(file, path.dirname(file))) }];
  }
  const user = options.userConfigFile ?? path.join(home(), '.ssh', 'config');
  const system = options.systemConfigFile ?? '/etc/ssh/ssh_config';
  return [
    { file: user, config: SSHConfig.parse(readConfigText(user, path.join(home(), '.ssh'))) },
    { file: system, config: SSHConfig.parse(readConfigText(system, '/etc/ssh')) },
  ].filter((layer) => layer.config.length > 0);
}

type Values = Record<string, string | string[]>;

/** The settings for `host` from every layer, first value winning, keys lower case. */
function compute(layers: readonly Layer[], host: string, user: string | undefined): Values {
  const merged: Values = {};
  for (const layer of layers) {
    // Match exec runs commands, as OpenSSH does; the config is the user's own.
    const values =
      user === undefined
        ? layer.config.compute(host, { ignoreCase: true })
        : layer.config.compute({ Host: host, User: user }, { ignoreCase: true });
    for (const [key, value] of Object.entries(values)) {
      if (key === 'identityfile' || key === 'certificatefile') {
        merged[key] = [...asList(merged[key]), ...asList(value)];
      } else if (!(key in merged)) {
        merged[key] = value;
      }
    }
  }
  return merged;
}

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) {
    return [];
  }
  return Array.isArray(value) ? value : [value];
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function yes(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) {
    return fallback;
  }
  return /^(yes|true|on)$/i.test(value.trim());
}

function number(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) {
    return fallback;
  }
  const n = Number(value.trim());
  if (!Number.isFinite(n) || n < 0) {
    throw new SpecError(`bad ssh setting ${what} ${value}: expected a number`, `${what} ${value}`);
  }
  return n;
}

/** `-o Key=Value` options, lower-cased keys, as config values. */
function commandLineValues(target: SshTarget | undefined): Values {
  const values: Values = {};
  for (const [key, value] of Object.entries(target?.options ?? {})) {
    values[key.toLowerCase()] ??= value;
  }
  return values;
}

/** Expands OpenSSH's % tokens. */
function tokens(
  text: string,
  t: { host: string; port: number; user: string; alias: string },
): string {
  return text.replace(/%(.)/g, (whole, letter: string) => {
    switch (letter) {
      case '%':
        return '%';
      case 'h':
        return t.host;
      case 'p':
        return String(t.port);
      case 'r':
        return t.user;
      case 'n':
        return t.alias;
      case 'u':
        return os.userInfo().username;
      case 'd':
        return home();
      case 'l':
        return os.hostname();
      default:
        return whole;
    }
  });
}

/**
 * The settings to reach `target` (an ssh= spec), or a jump host named `[user@]host[:port]`.
 * Command-line settings come first, as for ssh.
 */
export function resolveHost(target: SshTarget, options: ResolveOptions = {}): SshHostConfig {
  const layers = loadLayers({ ...options, configFile: target.configFile ?? options.configFile });
  const cli = commandLineValues(target);
  const fromConfig = compute(layers, target.host, target.user ?? first(cli.user));
  const get = (key: string): string | undefined => first(cli[key]) ?? first(fromConfig[key]);

  const alias = target.host;
  const localUser = os.userInfo().username;
  const user = target.user ?? get('user') ?? localUser;
  const port = target.port ?? number(get('port'), 22, 'Port');
  const hostName = tokens(get('hostname') ?? alias, { host: alias, port, user, alias });
  const t = { host: hostName, port, user, alias };
  const expand = (file: string): string => expandHome(tokens(file, t));

  const explicitIdentities = [
    ...target.identityFiles,
    ...asList(cli.identityfile),
    ...asList(fromConfig.identityfile),
  ];
  const identityFiles = (explicitIdentities.length > 0 ? explicitIdentities : DEFAULT_IDENTITIES)
    .filter((file) => file.toLowerCase() !== 'none')
    .map(expand);

  const agentSetting = get('identityagent');
  let identityAgent: string | undefined;
  if (agentSetting === undefined || agentSetting === 'SSH_AUTH_SOCK') {
    identityAgent = process.env.SSH_AUTH_SOCK || undefined;
  } else if (agentSetting.toLowerCase() !== 'none') {
    identityAgent = expand(
      agentSetting.replace(/^\$\{?(\w+)\}?$/, (_m, name: string) => process.env[name] ?? ''),
    );
  }

  const jumpSetting = target.jump ?? get('proxyjump');
  const proxyJump =
    jumpSetting === undefined || jumpSetting.toLowerCase() === 'none'
      ? []
      : jumpSetting
          .split(',')
          .map((hop) => hop.trim())
          .filter(Boolean);
  const commandSetting = get('proxycommand');
  const proxyCommand =
    commandSetting === undefined || commandSetting.toLowerCase() === 'none'
      ? undefined
      : tokens(commandSetting, t);

  const strict = (get('stricthostkeychecking') ?? 'ask').toLowerCase();
  const strictHostKeyChecking: StrictHostKeyChecking =
    strict === 'yes' || strict === 'true'
      ? 'yes'
      : strict === 'no' || strict === 'off' || strict === 'false'
        ? 'no'
        : strict === 'accept-new'
          ? 'accept-new'
          : 'ask';

  const knownHostsList = (key: string, fallback: string[]): string[] => {
    const value = cli[key] ?? fromConfig[key];
    const words = value === undefined ? fallback : asList(value).flatMap(splitWords);
    return words.filter((file) => file.toLowerCase() !== 'none').map(expand);
  };

  const connectTimeout = get('connecttimeout');
  return {
    alias,
    hostName,
    port,
    user,
    identityFiles,
    identitiesOnly: yes(get('identitiesonly'), false),
    identityAgent,
    proxyJump,
    proxyCommand,
    serverAliveInterval: number(get('serveraliveinterval'), 0, 'ServerAliveInterval'),
    serverAliveCountMax: number(get('serveralivecountmax'), 3, 'ServerAliveCountMax'),
    connectTimeout:
      connectTimeout === undefined ? undefined : number(connectTimeout, 0, 'ConnectTimeout'),
    userKnownHostsFiles: knownHostsList('userknownhostsfile', [
      '~/.ssh/known_hosts',
      '~/.ssh/known_hosts2',
    ]),
    globalKnownHostsFiles: knownHostsList('globalknownhostsfile', [
      '/etc/ssh/ssh_known_hosts',
      '/etc/ssh/ssh_known_hosts2',
    ]),
    strictHostKeyChecking,
    hashKnownHosts: yes(get('hashknownhosts'), false),
    hostKeyAlias: get('hostkeyalias'),
    batchMode: yes(get('batchmode'), false),
    pubkeyAuthentication: yes(get('pubkeyauthentication'), true),
    passwordAuthentication: yes(get('passwordauthentication'), true),
    kbdInteractiveAuthentication: yes(
      get('kbdinteractiveauthentication') ?? get('challengeresponseauthentication'),
      true,
    ),
    numberOfPasswordPrompts: number(get('numberofpasswordprompts'), 3, 'NumberOfPasswordPrompts'),
    configFiles: layers.map((layer) => layer.file),
  };
}

/** A ProxyJump hop, `[user@]host[:port]` or `ssh://[user@]host[:port]`, as a target. */
export function jumpTarget(hop: string, configFile: string | undefined): SshTarget {
  const text = hop.replace(/^ssh:\/\//, '');
  const at = text.lastIndexOf('@');
  const user = at === -1 ? undefined : text.slice(0, at);
  let host = text.slice(at + 1);
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracketed) {
    host = bracketed[1];
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else {
    const colon = /^([^:]+):(\d+)$/.exec(host);
    if (colon) {
      host = colon[1];
      port = Number(colon[2]);
    }
  }
  if (!host) {
    throw new SpecError(`bad jump host '${hop}': write [user@]host[:port]`, hop);
  }
  return { host, user, port, identityFiles: [], options: {}, extraArgs: [], configFile };
}

/**
 * The hosts `Host` lines of the ssh config name outright (no `*`, `?` or `!` patterns), in the
 * order they appear, as Remote-SSH offers them: what `ssh=NAME` can reach by name.
 */
export function configuredHosts(options: ResolveOptions = {}): string[] {
  const hosts: string[] = [];
  let layers: Layer[];
  try {
    layers = loadLayers(options);
  } catch {
    return [];
  }
  for (const layer of layers) {
    for (const line of layer.config) {
      if (!('param' in line) || line.param.toLowerCase() !== 'host') {
        continue;
      }
      const values = Array.isArray(line.value)
        ? line.value.map((v) => v.val)
        : String(line.value).split(/\s+/);
      for (const host of values) {
        if (host && !/[*?!]/.test(host) && !hosts.includes(host)) {
          hosts.push(host);
        }
      }
    }
  }
  return hosts;
}
