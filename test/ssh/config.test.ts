// Reading OpenSSH configuration and known_hosts, and building remote command lines: no server.

import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { checkSpec } from '../../src/core/spec';
import { jumpTarget, resolveHost } from '../../src/core/ssh/config';
import {
  addKnownHost,
  checkHostKey,
  fingerprint,
  hostFieldMatches,
  knownHostsName,
  lookupKnownHosts,
} from '../../src/core/ssh/knownHosts';
import {
  remoteShellCommand,
  sshBinaryArgv,
  SUDO_PROMPT,
  vagrantArgv,
} from '../../src/core/transports/command';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-sshconfig-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  return p;
}

function target(raw: string) {
  const spec = checkSpec(`ssh=${raw}`);
  assert.ok(spec.ssh);
  return spec.ssh;
}

describe('resolveHost', () => {
  const config = file(
    'config',
    [
      'Host web*.example.org !web9.example.org',
      '  User deploy',
      '  Port 2222',
      'Host alias',
      '  HostName real.%h.internal',
      '  User alice',
      '  IdentityFile ~/.ssh/alias_key',
      '  IdentityFile /keys/%r@%h',
      '  IdentitiesOnly yes',
      '  ProxyJump bastion,admin@gate:2200',
      '  ServerAliveInterval 30',
      '  ServerAliveCountMax 5',
      '  ConnectTimeout 7',
      '  StrictHostKeyChecking accept-new',
      `  Include ${path.join(dir, 'conf.d')}/*.conf`,
      'Host *',
      '  User everyone',
      '  Port 22',
      '  UserKnownHostsFile ~/kh1 /tmp/kh2',
      '',
    ].join('\n'),
  );
  file('conf.d/a.conf', '  HashKnownHosts yes\n  ProxyCommand none\n');

  test('Host patterns with wildcards and negation, first value wins', () => {
    const web = resolveHost(target('web1.example.org'), { configFile: config });
    assert.equal(web.user, 'deploy');
    assert.equal(web.port, 2222);
    const nine = resolveHost(target('web9.example.org'), { configFile: config });
    assert.equal(nine.user, 'everyone');
    assert.equal(nine.port, 22);
  });

  test('HostName with tokens, IdentityFile with ~ and tokens, and the rest of an alias', () => {
    const host = resolveHost(target('alias'), { configFile: config });
    assert.equal(host.hostName, 'real.alias.internal');
    assert.equal(host.user, 'alice');
    assert.deepEqual(host.identityFiles, [
      path.join(os.homedir(), '.ssh/alias_key'),
      '/keys/alice@real.alias.internal',
    ]);
    assert.equal(host.identitiesOnly, true);
    assert.deepEqual(host.proxyJump, ['bastion', 'admin@gate:2200']);
    assert.equal(host.serverAliveInterval, 30);
    assert.equal(host.serverAliveCountMax, 5);
    assert.equal(host.connectTimeout, 7);
    assert.equal(host.strictHostKeyChecking, 'accept-new');
    assert.equal(host.hashKnownHosts, true, 'from the Included file');
    assert.deepEqual(host.userKnownHostsFiles, [path.join(os.homedir(), 'kh1'), '/tmp/kh2']);
  });

  test('the ssh= arguments win over the config: -p, -l, -i, -o, -J', () => {
    const host = resolveHost(
      target(
        '-p 5000 -l bob -i /k/extra -o ServerAliveInterval=3 -o StrictHostKeyChecking=yes -J none alias',
      ),
      { configFile: config },
    );
    assert.equal(host.port, 5000);
    assert.equal(host.user, 'bob');
    assert.equal(host.identityFiles[0], '/k/extra');
    assert.equal(host.serverAliveInterval, 3);
    assert.equal(host.strictHostKeyChecking, 'yes');
    assert.deepEqual(host.proxyJump, []);
  });

  test('user@host in the spec wins over User in the config', () => {
    assert.equal(resolveHost(target('carol@alias'), { configFile: config }).user, 'carol');
  });

  test('defaults: port 22, the local user, OpenSSH default key files, ask about new hosts', () => {
    const host = resolveHost(target('plain.example'), { configFile: file('empty', '') });
    assert.equal(host.port, 22);
    assert.equal(host.user, os.userInfo().username);
    assert.equal(host.strictHostKeyChecking, 'ask');
    assert.ok(host.identityFiles.some((f) => f.endsWith('.ssh/id_ed25519')));
    assert.equal(host.identitiesOnly, false);
  });

  test('-F in the spec picks the config file, as ssh_config= does', () => {
    const other = file('other', 'Host alias\n  User fromother\n');
    assert.equal(
      resolveHost(target(`-F ${other} alias`), { configFile: config }).user,
      'fromother',
    );
  });

  test('a missing -F file is an error naming it', () => {
    assert.throws(
      () => resolveHost(target('x'), { configFile: '/no/such/config' }),
      /\/no\/such\/config/,
    );
  });

  test('jump hosts: [user@]host[:port], brackets for IPv6', () => {
    assert.deepEqual(jumpTarget('admin@gate:2200', undefined), {
      host: 'gate',
      user: 'admin',
      port: 2200,
      identityFiles: [],
      options: {},
      extraArgs: [],
      configFile: undefined,
    });
    const v6 = jumpTarget('[::1]:22', 'cfg');
    assert.equal(v6.host, '::1');
    assert.equal(v6.port, 22);
    assert.equal(v6.configFile, 'cfg');
  });
});

describe('known_hosts', () => {
  const key = Buffer.concat([
    Buffer.from([0, 0, 0, 11]),
    Buffer.from('ssh-ed25519'),
    Buffer.from([0, 0, 0, 32]),
    crypto.randomBytes(32),
  ]);
  const other = Buffer.concat([key.subarray(0, 19), crypto.randomBytes(32)]);
  const b64 = key.toString('base64');

  test('names hosts as OpenSSH does, and prints SHA256 fingerprints', () => {
    assert.equal(knownHostsName('h', 22), 'h');
    assert.equal(knownHostsName('h', 2222), '[h]:2222');
    assert.match(fingerprint(key), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  test('matches patterns, negations and hashed names', () => {
    assert.ok(hostFieldMatches('a.example,b.example', 'b.example'));
    assert.ok(hostFieldMatches('*.example,!bad.example', 'good.example'));
    assert.ok(!hostFieldMatches('*.example,!bad.example', 'bad.example'));
    assert.ok(hostFieldMatches('[h]:2222', '[h]:2222'));
    assert.ok(!hostFieldMatches('h', '[h]:2222'));
    const salt = crypto.randomBytes(20);
    const hash = crypto.createHmac('sha1', salt).update('secret.host').digest('base64');
    assert.ok(hostFieldMatches(`|1|${salt.toString('base64')}|${hash}`, 'secret.host'));
    assert.ok(!hostFieldMatches(`|1|${salt.toString('base64')}|${hash}`, 'other.host'));
  });

  test('trusted, changed (with the line), revoked and unknown keys', () => {
    const kh = file(
      'known_hosts',
      `# comment\n\nsome.host ssh-ed25519 ${other.toString('base64')}\n@revoked bad.host ssh-ed25519 ${b64}\nbad.host ssh-ed25519 ${b64}\n`,
    );
    assert.equal(checkHostKey(lookupKnownHosts([kh], ['new.host']), key).kind, 'unknown');
    const changed = checkHostKey(lookupKnownHosts([kh], ['some.host']), key);
    assert.equal(changed.kind, 'changed');
    assert.equal(changed.kind === 'changed' && changed.entry.line, 3);
    assert.equal(checkHostKey(lookupKnownHosts([kh], ['bad.host']), key).kind, 'revoked');
    assert.equal(checkHostKey(lookupKnownHosts([kh], ['some.host']), other).kind, 'trusted');
  });

  test('adds keys plainly or hashed, and finds them again', () => {
    const kh = path.join(dir, 'new/known_hosts');
    addKnownHost(kh, '[h]:2222', key, false);
    addKnownHost(kh, 'hashed.host', key, true);
    const text = fs.readFileSync(kh, 'utf8');
    assert.match(text, /^\[h\]:2222 ssh-ed25519 /);
    assert.match(text, /\n\|1\|[^ ]+ ssh-ed25519 /);
    assert.ok(!text.includes('hashed.host'));
    assert.equal(checkHostKey(lookupKnownHosts([kh], ['hashed.host']), key).kind, 'trusted');
    assert.equal((fs.statSync(kh).mode & 0o777).toString(8), '600');
  });
});

describe('remote command lines', () => {
  const line = "import sys;exec(r(12),'<x>')";

  test('quote the bootstrap for the remote shell, with env, -B and the python', () => {
    const spec = checkSpec("ssh=h//python=/opt/py3/bin/python//env:A=it's//dont_write_bytecode");
    assert.equal(
      remoteShellCommand(spec, line, false),
      `exec env 'A=it'\\''s' /opt/py3/bin/python -B -c 'import sys;exec(r(12),'\\''<x>'\\'')'`,
    );
  });

  test('sudo asks on stdin with a prompt of ours when someone can answer, else fails at once', () => {
    const spec = checkSpec('ssh=h//sudo=www-data');
    const asking = remoteShellCommand(spec, line, true);
    assert.ok(asking.startsWith(`exec sudo -S -p '${SUDO_PROMPT}' -u www-data -- /bin/sh -c `));
    assert.ok(asking.endsWith(` execnet-sudo python3 -c 'import sys;exec(r(12),'\\''<x>'\\'')'`));
    assert.ok(remoteShellCommand(spec, line, false).startsWith('exec sudo -n -u www-data -- '));
  });

  test('ssh_binary runs ssh -C with the spec arguments and -F from ssh_config=', () => {
    const spec = checkSpec('ssh=-p 2222 -i key -o A=b -J j user@host//ssh_binary//ssh_config=cfg');
    const argv = sshBinaryArgv(spec, line, false);
    assert.deepEqual(argv.slice(0, -1), [
      'ssh',
      '-C',
      '-F',
      'cfg',
      '-p',
      '2222',
      '-l',
      'user',
      '-i',
      'key',
      '-o',
      'A=b',
      '-J',
      'j',
      '--',
      'host',
    ]);
    assert.ok(argv.at(-1)?.startsWith('exec python3 -c '));
    assert.equal(
      sshBinaryArgv(checkSpec('ssh=h//ssh_binary=/opt/ssh'), line, false)[0],
      '/opt/ssh',
    );
  });

  test('vagrant_ssh runs `vagrant ssh NAME -- -C [-F cfg] CMD`, as execnet does', () => {
    const argv = vagrantArgv(
      checkSpec('vagrant_ssh=default//ssh_config=cfg//python=python3.12'),
      line,
      false,
    );
    assert.deepEqual(argv.slice(0, -1), ['vagrant', 'ssh', 'default', '--', '-C', '-F', 'cfg']);
    assert.equal(argv.at(-1), `exec python3.12 -c 'import sys;exec(r(12),'\\''<x>'\\'')'`);
  });
});
