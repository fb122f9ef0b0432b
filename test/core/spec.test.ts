// Gateway specs: parseSpec reads what execnet's XSpec reads (checked against the real XSpec),
// execnet's forms type into fields, checkSpec's every rejection is a SpecError naming the
// offending item, and formatSpec round-trips.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SpecError } from '../../src/core/errors';
import {
  checkSpec,
  formatSpec,
  parseSpec,
  SPEC_KEYS,
  validateSpec,
  withId,
  type GatewaySpec,
} from '../../src/core/spec';
import { Group } from '../../src/core/group';
import { askExecnet } from '../helpers/execnet';

/** Asserts that `spec` is rejected with a SpecError whose part is `part` and whose message has every fragment. */
function rejects(spec: string, part: string, ...fragments: string[]): void {
  assert.throws(
    () => checkSpec(spec),
    (error: unknown) => {
      assert.ok(error instanceof SpecError, `expected a SpecError, got ${String(error)}`);
      assert.equal(error.part, part);
      assert.ok(error.message.includes(`'${part}'`), `message names '${part}': ${error.message}`);
      for (const fragment of fragments) {
        assert.ok(error.message.includes(fragment), `message has '${fragment}': ${error.message}`);
      }
      return true;
    },
  );
}

const defaults = { env: {}, dontWriteBytecode: false, execmodel: 'thread' } as const;

describe('valid specs', () => {
  test('popen alone has the defaults and nothing else', () => {
    assert.deepEqual(checkSpec('popen'), {
      raw: 'popen',
      xspec: { popen: true },
      type: 'popen',
      ...defaults,
    });
  });

  test('popen with every popen option', () => {
    const raw = 'popen//python=python3.12//chdir=x//env:NAME=v//nice=5//id=gw1';
    assert.deepEqual(checkSpec(raw), {
      raw,
      xspec: {
        popen: true,
        python: 'python3.12',
        chdir: 'x',
        'env:NAME': 'v',
        nice: '5',
        id: 'gw1',
      },
      type: 'popen',
      ...defaults,
      python: ['python3.12'],
      chdir: 'x',
      env: { NAME: 'v' },
      nice: 5,
      id: 'gw1',
    });
  });

  test('ssh=wyvern//python=python3.3//chdir=mycache', () => {
    const raw = 'ssh=wyvern//python=python3.3//chdir=mycache';
    assert.deepEqual(checkSpec(raw), {
      raw,
      xspec: { ssh: 'wyvern', python: 'python3.3', chdir: 'mycache' },
      type: 'ssh',
      ...defaults,
      ssh: { raw: 'wyvern', host: 'wyvern', identityFiles: [], options: {}, extraArgs: [] },
      python: ['python3.3'],
      chdir: 'mycache',
    });
  });

  test('socket=192.168.1.4:8888', () => {
    assert.deepEqual(parseSpec('socket=192.168.1.4:8888').socket, {
      host: '192.168.1.4',
      port: 8888,
    });
  });

  test('socket takes a bracketed IPv6 address and keeps the host without brackets', () => {
    assert.deepEqual(parseSpec('socket=[::1]:8888').socket, { host: '::1', port: 8888 });
  });

  test('socket ports 1 and 65535 are the limits', () => {
    assert.equal(parseSpec('socket=localhost:1').socket?.port, 1);
    assert.equal(parseSpec('socket=localhost:65535').socket?.port, 65535);
  });

  test('bare socket with installvia leaves the address to the server started there', () => {
    const spec = parseSpec('socket//installvia=p1//id=s1');
    assert.equal(spec.type, 'socket');
    assert.equal(spec.socket, undefined);
    assert.equal(spec.installvia, 'p1');
  });

  test('vagrant_ssh=default names the machine', () => {
    const spec = parseSpec('vagrant_ssh=default//python=python3');
    assert.equal(spec.type, 'vagrant_ssh');
    assert.equal(spec.vagrantSsh, 'default');
  });

  test('popen//dont_write_bytecode sets the flag', () => {
    assert.equal(parseSpec('popen//dont_write_bytecode').dontWriteBytecode, true);
  });

  test('dont_write_bytecode=1 and =true mean the flag too, as in execnet', () => {
    for (const value of ['1', 'true', 'True']) {
      assert.equal(parseSpec(`popen//dont_write_bytecode=${value}`).dontWriteBytecode, true);
    }
  });

  test('every execmodel is accepted, thread by default', () => {
    assert.equal(parseSpec('popen').execmodel, 'thread');
    for (const model of ['thread', 'main_thread_only', 'eventlet', 'gevent']) {
      assert.equal(parseSpec(`popen//execmodel=${model}`).execmodel, model);
    }
  });

  test('the type may come anywhere, as execnet allows', () => {
    const spec = parseSpec('id=gw1//nice=3//popen');
    assert.equal(spec.type, 'popen');
    assert.equal(spec.id, 'gw1');
  });

  test('ids may use letters, digits, _ - and .', () => {
    assert.equal(parseSpec('popen//id=Gw_1-a.b').id, 'Gw_1-a.b');
  });

  test('nice goes from -20 to 19, with an optional sign', () => {
    assert.equal(parseSpec('popen//nice=-20').nice, -20);
    assert.equal(parseSpec('popen//nice=19').nice, 19);
    assert.equal(parseSpec('popen//nice=+5').nice, 5);
  });

  test('values are kept verbatim, spaces included', () => {
    assert.equal(parseSpec('popen//chdir= my dir ').chdir, ' my dir ');
  });

  test('env values may contain = and may be empty', () => {
    const spec = parseSpec('popen//env:OPTS=a=1,b=2//env:EMPTY=//env:_X9=x');
    assert.deepEqual(spec.env, { OPTS: 'a=1,b=2', EMPTY: '', _X9: 'x' });
  });

  test('via works with popen, ssh and vagrant_ssh', () => {
    assert.equal(parseSpec('popen//via=master//id=worker').via, 'master');
    assert.equal(parseSpec('ssh=host//via=master').via, 'master');
    assert.equal(parseSpec('vagrant_ssh=default//via=master').via, 'master');
  });

  test('ssh_config works with ssh and vagrant_ssh, whose commands both take -F', () => {
    assert.equal(parseSpec('ssh=xyz//ssh_config=qwe').sshConfig, 'qwe');
    assert.equal(parseSpec('vagrant_ssh=default//ssh_config=qwe').sshConfig, 'qwe');
  });
});

describe("parseSpec reads what execnet's XSpec reads; makeGateway checks", () => {
  // Spec strings execnet users write, nonsense ones included: XSpec accepts or refuses each, and
  // what it accepts it keeps as raw attributes.
  const SPECS = [
    'popen',
    'execmodel=thread',
    'socket=host:8888//python=python3',
    'socket//installvia=gw0',
    'popen//dont_write_bytecode',
    'popen//dont_write_bytecode=0',
    'popen//execmodel=eventlet//id=x//chdir=/tmp//nice=5',
    'id=gw1//nice=3//popen',
    'ssh=-p 2222 user@host//python=python3.12',
    'popen//foo=bar',
    'Popen',
    'popen ',
    '   ',
    'popen// //id=x',
    'popen=3',
    'popen//nice=abc',
    'popen//ssh=host',
    'popen//a=b=c',
    'popen//env:A=1//env:B=',
    'popen//env:A=1//env:A=2',
    'popen//env:A',
    'popen//env:=x',
    'popen//constructor=1',
    'popen//popen',
    'popen//id=a//id=b',
    'popen//_x=1',
    'popen//=x',
    'popen//env',
    'popen//env=x',
    'popen//',
    '//popen',
    'popen////id=x',
    '',
  ];

  interface Reading {
    readonly accepted: boolean;
    /** vars() of the XSpec without _spec, with env items as env:NAME. */
    readonly attributes?: Record<string, string | true>;
  }

  test('accepts and refuses the same strings as XSpec, with the same raw attributes', () => {
    const execnet = askExecnet<Reading[]>(
      `
out = []
for text in data:
    try:
        spec = execnet.XSpec(text)
    except Exception:
        out.append({"accepted": False})
        continue
    attributes = {k: v for k, v in vars(spec).items() if k not in ("_spec", "env")}
    attributes.update(("env:" + k, v) for k, v in spec.env.items())
    out.append({"accepted": True, "attributes": attributes})
json.dump(out, sys.stdout)
`,
      SPECS,
    );
    SPECS.forEach((text, i) => {
      let ours: Reading;
      try {
        ours = { accepted: true, attributes: { ...parseSpec(text).xspec } };
      } catch (error) {
        assert.ok(error instanceof SpecError, `${text}: ${String(error)}`);
        ours = { accepted: false };
      }
      assert.deepEqual(ours, execnet[i], `spec '${text}'`);
    });
  });

  test('execmodel=thread alone parses, with no type, and checkSpec says a type is missing', () => {
    const spec = parseSpec('execmodel=thread');
    assert.equal(spec.type, undefined);
    assert.equal(spec.execmodel, 'thread');
    assert.deepEqual(spec.xspec, { execmodel: 'thread' });
    assert.throws(() => checkSpec('execmodel=thread'), {
      name: 'SpecError',
      message: /^no gateway type/,
    });
  });

  test('socket=HOST:PORT//python=... parses; the raw socket text sits beside the typed one', () => {
    const spec = parseSpec('socket=host:8888//python=python3');
    assert.equal(spec.xspec.socket, 'host:8888');
    assert.deepEqual(spec.socket, { host: 'host', port: 8888 });
    assert.deepEqual(spec.python, ['python3']);
    rejects('socket=host:8888//python=python3', 'python=python3', 'does not work with socket');
  });

  test('whether execmodel and dont_write_bytecode were given shows in xspec', () => {
    assert.equal(parseSpec('popen').xspec.execmodel, undefined);
    assert.equal(parseSpec('popen').execmodel, 'thread');
    assert.equal(parseSpec('popen//execmodel=thread').xspec.execmodel, 'thread');
    assert.equal(parseSpec('popen').xspec.dont_write_bytecode, undefined);
    assert.equal(parseSpec('popen//dont_write_bytecode').xspec.dont_write_bytecode, true);
    assert.equal(parseSpec('popen//dont_write_bytecode=1').xspec.dont_write_bytecode, '1');
  });

  test('a value that does not read leaves its typed field unset; checkSpec names it', () => {
    const spec = parseSpec('popen//nice=abc');
    assert.equal(spec.nice, undefined);
    assert.equal(spec.xspec.nice, 'abc');
    rejects('popen//nice=abc', 'nice=abc', 'bad nice');
  });

  test('an unknown key parses and is refused with a suggestion when checked', () => {
    assert.equal(parseSpec('popen//pyhton=python3').xspec.pyhton, 'python3');
    rejects('popen//pyhton=python3', 'pyhton=python3', "did you mean 'python'?");
  });

  test('makeGateway runs the checks, rejecting before anything starts', async () => {
    const group = new Group('spec-check');
    await assert.rejects(group.makeGateway('execmodel=thread'), {
      name: 'SpecError',
      message: /no gateway type/,
    });
    await assert.rejects(group.makeGateway(parseSpec('socket=host:8888//python=python3')), {
      name: 'SpecError',
      message: /'python=python3' does not work with socket gateways/,
    });
    assert.equal(group.size, 0);
  });
});

describe('python is split shell-style', () => {
  const argv = (value: string) => parseSpec(`popen//python=${value}`).python;

  test('python=sudo -u x python3 is an argv', () => {
    assert.deepEqual(argv('sudo -u x python3'), ['sudo', '-u', 'x', 'python3']);
  });

  test('quotes and backslash-space keep a path with spaces whole', () => {
    assert.deepEqual(argv('"/opt/my python/bin/python3" -X dev'), [
      '/opt/my python/bin/python3',
      '-X',
      'dev',
    ]);
    assert.deepEqual(argv("'/opt/my python/python3'"), ['/opt/my python/python3']);
    assert.deepEqual(argv('/opt/my\\ python/python3'), ['/opt/my python/python3']);
  });

  test('an unquoted Windows path keeps its backslashes', () => {
    assert.deepEqual(argv('C:\\Python312\\python.exe'), ['C:\\Python312\\python.exe']);
    assert.deepEqual(argv('"C:\\Program Files\\Python312\\python.exe"'), [
      'C:\\Program Files\\Python312\\python.exe',
    ]);
  });

  test('$ # and globs are literal, as execnet passes them', () => {
    assert.deepEqual(argv('$HOME/py ${X} a#b #c /opt/py*/python'), [
      '$HOME/py',
      '${X}',
      'a#b',
      '#c',
      '/opt/py*/python',
    ]);
  });

  test("an empty quoted argument survives: python=python3 ''", () => {
    assert.deepEqual(argv("python3 ''"), ['python3', '']);
  });
});

describe('ssh arguments', () => {
  const ssh = (raw: string) => parseSpec(`ssh=${raw}`).ssh;

  test('ssh=host is just a host', () => {
    assert.deepEqual(ssh('host'), {
      raw: 'host',
      host: 'host',
      identityFiles: [],
      options: {},
      extraArgs: [],
    });
  });

  test('ssh=-p 2222 user@host gives user, host and port', () => {
    assert.deepEqual(ssh('-p 2222 user@host'), {
      raw: '-p 2222 user@host',
      host: 'host',
      user: 'user',
      port: 2222,
      identityFiles: [],
      options: {},
      extraArgs: [],
    });
  });

  test('ssh=-i key -o Opt=val -l user -J jump host fills every field', () => {
    assert.deepEqual(ssh('-i key -o Opt=val -l user -J jump host'), {
      raw: '-i key -o Opt=val -l user -J jump host',
      host: 'host',
      user: 'user',
      identityFiles: ['key'],
      options: { Opt: 'val' },
      jump: 'jump',
      extraArgs: [],
    });
  });

  test('-F gives the config file, repeated -i collect, -o takes Key Value too', () => {
    const target = ssh('-F ~/.ssh/cfg -i a -i b -o "ProxyCommand nc %h %p" -oBatchMode=yes h');
    assert.equal(target?.configFile, '~/.ssh/cfg');
    assert.deepEqual(target?.identityFiles, ['a', 'b']);
    assert.deepEqual(target?.options, { ProxyCommand: 'nc %h %p', BatchMode: 'yes' });
  });

  test('bundled flags split like getopt: -Cp2222 and -vp 22', () => {
    assert.equal(ssh('-Cp2222 host')?.port, 2222);
    assert.deepEqual(ssh('-Cp2222 host')?.extraArgs, ['-C']);
    assert.equal(ssh('-vp 22 host')?.port, 22);
  });

  test('other options land in extraArgs with their values', () => {
    assert.deepEqual(ssh('-L 8080:localhost:80 -A -4 host')?.extraArgs, [
      '-L',
      '8080:localhost:80',
      '-A',
      '-4',
    ]);
  });

  test('options may follow the host, as OpenSSH allows', () => {
    assert.equal(ssh('host -p 2200')?.port, 2200);
  });

  test('the first -l, user@ or -p wins, as in ssh', () => {
    assert.equal(ssh('-l first second@host')?.user, 'first');
    assert.equal(ssh('-p 1 -p 2 host')?.port, 1);
  });

  test('user@host splits at the last @', () => {
    assert.deepEqual(
      [ssh('me@corp.com@host')?.user, ssh('me@corp.com@host')?.host],
      ['me@corp.com', 'host'],
    );
  });

  test('-- ends the options', () => {
    assert.equal(ssh('-- host')?.host, 'host');
  });
});

describe('errors name the offending part', () => {
  test('an empty spec says how to start one', () => {
    for (const spec of ['', '   ']) {
      assert.throws(() => checkSpec(spec), {
        name: 'SpecError',
        part: spec,
        message:
          'empty spec: start the spec with popen, ssh=HOST, socket=HOST:PORT, vagrant_ssh=NAME, slurm, docker=CONTAINER or podman=CONTAINER',
      });
    }
  });

  test("popen////id=x has an empty item after 'popen'", () => {
    rejects('popen////id=x', 'popen////id=x', "empty item after 'popen'");
  });

  test('leading and trailing // are empty items', () => {
    rejects('//popen', '//popen', 'empty item at the start');
    rejects('popen//', 'popen//', 'empty item at the end');
    rejects('popen// //id=x', 'popen// //id=x', "empty item after 'popen'");
  });

  test('id=a//id=b is a duplicate id', () => {
    rejects('popen//id=a//id=b', 'id=b', "duplicate key 'id'", "'id=a' already sets it");
  });

  test('repeated types and env names are duplicates too', () => {
    rejects('popen//popen', 'popen', "duplicate key 'popen'");
    rejects('popen//env:A=1//env:A=2', 'env:A=2', "duplicate key 'env:A'");
  });

  test('a spec without a type says how to start one', () => {
    assert.throws(() => checkSpec('id=x//nice=3'), {
      name: 'SpecError',
      message:
        'no gateway type: start the spec with popen, ssh=HOST, socket=HOST:PORT, vagrant_ssh=NAME, slurm, docker=CONTAINER or podman=CONTAINER',
    });
  });

  test('two types are refused', () => {
    rejects('popen//ssh=host', 'ssh=host', 'two gateway types', "'popen'", 'exactly one');
  });

  test('chdr=x suggests chdir', () => {
    assert.throws(() => checkSpec('popen//chdr=x'), {
      name: 'SpecError',
      message: "unknown key 'chdr' in 'chdr=x' — did you mean 'chdir'?",
    });
  });

  test('other typos suggest the nearest key', () => {
    rejects('popen//pyhton=python3', 'pyhton=python3', "did you mean 'python'?");
    rejects('Popen', 'Popen', "did you mean 'popen'?");
    rejects('vagrant=default', 'vagrant=default', "did you mean 'vagrant_ssh'?");
    rejects('popen//evn:HOME=/x', 'evn:HOME=/x', "did you mean 'env:HOME'?");
    rejects('popen//dont_write_bytecodes', 'dont_write_bytecodes', "'dont_write_bytecode'");
  });

  test('a key like nothing valid lists the valid keys', () => {
    rejects(
      'popen//hello=3',
      'hello=3',
      "unknown key 'hello'",
      'valid keys: popen, ssh,',
      'env:NAME',
    );
  });

  test('keys with spaces are refused, since execnet does not trim', () => {
    rejects('popen //id=x', 'popen ', "key 'popen '", 'whitespace');
    rejects('popen// id=x', ' id=x', "key ' id'", 'whitespace');
  });

  test('an item without a key is refused', () => {
    rejects('popen//=x', '=x', 'missing key');
  });

  test('env needs a valid variable name and a value', () => {
    rejects('popen//env:=x', 'env:=x', 'missing variable name', 'env:NAME=VALUE');
    rejects('popen//env=x', 'env=x', 'missing variable name', 'env:NAME=VALUE');
    rejects('popen//env:1X=v', 'env:1X=v', "bad variable name '1X'");
    rejects('popen//env:A-B=v', 'env:A-B=v', "bad variable name 'A-B'");
    rejects('popen//env:NAME', 'env:NAME', 'missing value', 'env:NAME=VALUE');
  });

  test('bare chdir needs a value', () => {
    rejects('popen//chdir', 'chdir', 'missing value', 'chdir=PATH');
  });

  test('every valued key needs its value', () => {
    for (const [key, hint] of [
      ['python', 'python=PATH'],
      ['id', 'id=ID'],
      ['nice', 'nice=N'],
      ['execmodel', 'execmodel=MODEL'],
      ['via', 'via=ID'],
      ['ssh_config', 'ssh_config=PATH'],
    ]) {
      rejects(`popen//${key}`, key, 'missing value', hint);
    }
    rejects('ssh', 'ssh', 'missing value', 'ssh=HOST');
    rejects('vagrant_ssh', 'vagrant_ssh', 'missing value', 'vagrant_ssh=NAME');
  });

  test('empty values are refused', () => {
    rejects('popen//chdir=', 'chdir=', 'empty value', 'chdir=PATH');
    rejects('popen//id=', 'id=', 'empty value');
    rejects('ssh=', 'ssh=', 'empty value', 'ssh=HOST');
    rejects('socket=', 'socket=', 'empty value', 'socket=HOST:PORT');
  });

  test('an empty python is an error', () => {
    rejects('popen//python=', 'python=', 'empty value');
    rejects('popen//python=  ', 'python=  ', 'empty python');
  });

  test('popen=3 is a value given to a flag', () => {
    rejects('popen=3', 'popen=3', 'unexpected value', "write just 'popen'");
  });

  test('dont_write_bytecode=yes is refused, and =false explains why', () => {
    rejects('popen//dont_write_bytecode=yes', 'dont_write_bytecode=yes', 'unexpected value');
    rejects(
      'popen//dont_write_bytecode=false',
      'dont_write_bytecode=false',
      'execnet would read it as true',
    );
  });

  test('nice=abc and out-of-range nice are refused', () => {
    for (const value of ['abc', '20', '-21', '1.5', '5 ']) {
      rejects(`popen//nice=${value}`, `nice=${value}`, 'bad nice', '-20 to 19');
    }
  });

  test('socket=host has no port', () => {
    rejects('socket=host', 'socket=host', 'missing port', 'socket=HOST:PORT');
  });

  test('socket=host:99999 and other bad ports are refused', () => {
    rejects('socket=host:99999', 'socket=host:99999', "bad port '99999'", '1 to 65535');
    rejects('socket=host:0', 'socket=host:0', "bad port '0'");
    rejects('socket=host:http', 'socket=host:http', "bad port 'http'");
  });

  test('socket needs a host, and IPv6 needs brackets', () => {
    rejects('socket=:8888', 'socket=:8888', 'bad host');
    rejects('socket=::1:8888', 'socket=::1:8888', 'brackets');
  });

  test('bare socket without installvia needs an address', () => {
    rejects('socket', 'socket', 'missing address', 'socket=HOST:PORT', 'installvia=ID');
  });

  test('a bad execmodel lists the valid ones', () => {
    rejects(
      'popen//execmodel=asyncio',
      'execmodel=asyncio',
      "unknown execmodel 'asyncio'",
      'thread, main_thread_only, eventlet, gevent',
    );
  });

  test('gateway ids use identifier characters only', () => {
    rejects('popen//id=a b', 'id=a b', "bad gateway id 'a b'");
    rejects('popen//id=a:b', 'id=a:b', "bad gateway id 'a:b'");
    rejects('popen//via=a/b', 'via=a/b', "bad gateway id 'a/b'");
  });

  test('vagrant_ssh names have no whitespace', () => {
    rejects('vagrant_ssh=my box', 'vagrant_ssh=my box', 'bad vagrant_ssh');
  });

  test('via does not work with socket', () => {
    rejects('socket=h:1//via=gw1', 'via=gw1', 'does not work with socket');
  });

  test('installvia only applies to socket', () => {
    rejects('popen//installvia=gw1', 'installvia=gw1', 'only applies to socket');
  });

  test('python does not work with socket', () => {
    rejects('socket=h:1//python=python3', 'python=python3', 'does not work with socket');
  });

  test('ssh_config only applies to ssh and vagrant_ssh', () => {
    rejects('popen//ssh_config=x', 'ssh_config=x', 'only applies to ssh and vagrant_ssh', 'popen');
    rejects('socket=h:1//ssh_config=x', 'ssh_config=x', 'not socket');
  });

  test('a gateway cannot go via itself', () => {
    rejects('popen//id=a//via=a', 'via=a', 'names the gateway itself');
    rejects('socket//id=a//installvia=a', 'installvia=a', 'names the gateway itself');
  });

  test('ssh arguments without a host are refused', () => {
    rejects('ssh=-p 2222', 'ssh=-p 2222', 'missing host');
    rejects('ssh=-p', 'ssh=-p', 'missing argument to ssh option -p');
  });

  test('a bad ssh port or destination is refused', () => {
    rejects('ssh=-p abc host', 'ssh=-p abc host', "bad port 'abc'");
    rejects('ssh=user@', 'ssh=user@', "bad destination 'user@'");
    rejects('ssh=@host', 'ssh=@host', "bad destination '@host'");
    rejects('ssh=-o host', 'ssh=-o host', "bad ssh option '-o host'");
  });

  test('words after the ssh host are refused rather than run remotely', () => {
    rejects('ssh=host sudo', 'ssh=host sudo', "unexpected 'sudo' after the host", 'python=');
  });

  test('ssh allows a single -J', () => {
    rejects('ssh=-J a -J b host', 'ssh=-J a -J b host', 'more than one -J');
  });

  test('unclosed quotes and shell operators are refused', () => {
    rejects('popen//python="/opt/py', 'python="/opt/py', 'unclosed " quote');
    rejects("ssh='host", "ssh='host", "unclosed ' quote");
    rejects('popen//python=python3 > log', 'python=python3 > log', "shell operator '>'");
    rejects('popen//python=a|b', 'python=a|b', "shell operator '|'");
  });
});

describe('transport options', () => {
  test('ssh_binary: bare means ssh from PATH, a value names the binary', () => {
    assert.equal(parseSpec('ssh=h//ssh_binary').sshBinary, 'ssh');
    assert.equal(parseSpec('ssh=h//ssh_binary=/usr/local/bin/ssh').sshBinary, '/usr/local/bin/ssh');
    rejects('popen//ssh_binary', 'ssh_binary', 'only applies to ssh gateways');
  });

  test('sudo names a user, and works with every type that starts an interpreter', () => {
    assert.equal(parseSpec('popen//sudo=www-data').sudo, 'www-data');
    assert.equal(parseSpec('ssh=h//sudo=root').sudo, 'root');
    assert.equal(parseSpec('vagrant_ssh=default//sudo=root').sudo, 'root');
    rejects('socket=h:1//sudo=root', 'sudo=root', 'does not work with socket');
    rejects('popen//sudo=a b', 'sudo=a b', 'no whitespace');
  });

  test('socket_key, tls and tls_ca belong to socket gateways with an address', () => {
    const spec = parseSpec('socket=h:1//socket_key=k//tls_ca=ca.pem');
    assert.equal(spec.socketKey, 'k');
    assert.equal(spec.tls, true);
    assert.equal(spec.tlsCa, 'ca.pem');
    assert.equal(parseSpec('socket=h:1//tls').tls, true);
    rejects('popen//tls', 'tls', 'only applies to socket');
    rejects('ssh=h//socket_key=k', 'socket_key=k', 'only applies to socket');
    rejects('socket//installvia=a//tls', 'tls', 'does not work with installvia');
    rejects('socket=h:1//tls=yes', 'tls=yes', 'takes none');
    rejects('socket=h:1//tls//tls_ca=c', 'tls', 'implied by');
  });
});

describe('formatSpec', () => {
  const roundTrips = [
    'popen',
    'popen//python=python3.12//chdir=x//env:NAME=v//nice=5//id=gw1',
    'ssh=wyvern//python=python3.3//chdir=mycache',
    'ssh=-i key -o Opt=val -l user -J jump host//ssh_config=cfg',
    'socket=192.168.1.4:8888',
    'socket=[::1]:8888//id=s',
    'socket//installvia=p1//id=s1',
    'vagrant_ssh=default//ssh_config=c',
    'popen//dont_write_bytecode=1',
    'popen//execmodel=eventlet//via=master',
    'popen//python=sudo -u x "/opt/my python/python3" $HOME a#b //nice=-3',
    'popen//python=C:\\Python312\\python.exe//chdir=C:\\work',
    "popen//python=it\\'s 'a\"b' ''",
    'popen//env:A=x=y//env:B=//chdir=/tmp/',
    'popen//python=/usr/bin/',
    'ssh=host//ssh_binary',
    'ssh=host//ssh_binary=/opt/ssh/bin/ssh//sudo=deploy',
    'popen//sudo=nobody',
    'socket=h:1//socket_key=~/.execnet/key//tls',
    'socket=h:1//tls_ca=ca.pem',
  ];

  for (const raw of roundTrips) {
    test(`round-trips ${raw}`, () => {
      const spec = checkSpec(raw);
      const text = formatSpec(spec);
      const again = checkSpec(text);
      assert.deepEqual({ ...again, xspec: spec.xspec }, { ...spec, raw: text });
      assert.equal(formatSpec(checkSpec(text)), text, 'canonical: formatting again is stable');
    });
  }

  test('puts the type first and options in key order, defaults left out', () => {
    assert.equal(
      formatSpec(checkSpec('execmodel=thread//nice=5//id=gw1//chdir=x//popen')),
      'popen//id=gw1//chdir=x//nice=5',
    );
  });

  test('writes flags bare and keeps the ssh arguments verbatim', () => {
    assert.equal(
      formatSpec(checkSpec('dont_write_bytecode=true//ssh=-p  2222   host')),
      'ssh=-p  2222   host//dont_write_bytecode',
    );
  });

  test('puts IPv6 socket hosts in brackets', () => {
    assert.equal(formatSpec(checkSpec('socket=[fe80::1]:22')), 'socket=[fe80::1]:22');
  });

  test('moves a value ending in / to the end, where // cannot swallow it', () => {
    assert.equal(
      formatSpec(checkSpec('popen//env:A=1//chdir=/tmp/')),
      'popen//env:A=1//chdir=/tmp/',
    );
  });

  test('refuses two values ending in /, which no spec string can hold', () => {
    const spec: GatewaySpec = { ...checkSpec('popen//chdir=/a/'), env: { X: 'b/' } };
    assert.throws(() => formatSpec(spec), SpecError);
  });

  test('refuses a value containing //', () => {
    const spec: GatewaySpec = { ...checkSpec('popen'), chdir: 'a//b' };
    assert.throws(() => formatSpec(spec), SpecError);
  });
});

describe('withId', () => {
  test('sets the id, keeping the text as written, as execnet does', () => {
    const execnet = askExecnet<[string, string, string]>(`
g = execnet.Group()
gw = g.makegateway("nice=3//popen")
json.dump([str(gw.spec), gw.spec.id, gw.spec.nice], sys.stdout)
g.terminate()
`);
    assert.deepEqual(execnet, ['nice=3//popen', 'gw0', '3']);
    const spec = checkSpec('nice=3//popen');
    const named = withId(spec, 'gw0');
    assert.deepEqual([named.raw, named.id, named.xspec.nice], execnet);
    assert.equal(named.xspec.id, 'gw0');
    assert.equal(spec.id, undefined, 'the original is left alone');
  });

  test('replaces an existing id', () => {
    assert.equal(withId(checkSpec('popen//id=a'), 'b').id, 'b');
  });

  test('refuses a bad id, naming it', () => {
    assert.throws(() => withId(checkSpec('popen'), 'a b'), {
      name: 'SpecError',
      message: /'id=a b'/,
    });
  });

  test('refuses an id that the spec goes via', () => {
    assert.throws(() => withId(checkSpec('popen//via=m'), 'm'), /names the gateway itself/);
  });
});

describe('validateSpec', () => {
  test('returns undefined for a valid spec', () => {
    assert.equal(validateSpec('popen//id=gw1'), undefined);
  });

  test("returns checkSpec's message for an invalid one", () => {
    assert.equal(
      validateSpec('popen//chdr=x'),
      "unknown key 'chdr' in 'chdr=x' — did you mean 'chdir'?",
    );
  });

  test('guides a spec being typed', () => {
    assert.match(validateSpec('pop') ?? '', /did you mean 'popen'\?/);
    assert.match(validateSpec('popen//') ?? '', /empty item at the end/);
    assert.match(validateSpec('popen//nice=') ?? '', /empty value in 'nice='/);
    assert.equal(validateSpec('popen//nice=1'), undefined);
  });
});

describe('SPEC_KEYS', () => {
  test('lists every key the parser knows, env as env:', () => {
    assert.deepEqual([...SPEC_KEYS].sort(), [
      'chdir',
      'container_args',
      'docker',
      'dont_write_bytecode',
      'env:',
      'execmodel',
      'id',
      'image',
      'installvia',
      'nice',
      'podman',
      'popen',
      'python',
      'slurm',
      'slurm_job',
      'slurm_pending',
      'slurm_tasks',
      'socket',
      'socket_key',
      'ssh',
      'ssh_binary',
      'ssh_config',
      'sudo',
      'tls',
      'tls_ca',
      'vagrant_ssh',
      'via',
    ]);
    for (const key of SPEC_KEYS) {
      const item = key === 'env:' ? 'env:X=1' : `${key}=x`;
      assert.doesNotMatch(validateSpec(`popen//${item}`) ?? '', /unknown key/, key);
    }
  });
});

describe('slurm, docker and podman specs', () => {
  test('bare slurm takes the cluster defaults; slurm=OPTIONS keeps srun options as words', () => {
    assert.deepEqual(checkSpec('slurm'), {
      raw: 'slurm',
      xspec: { slurm: true },
      type: 'slurm',
      ...defaults,
      slurm: { raw: '', options: [] },
    });
    const spec = checkSpec('slurm=-p debug --time=10 -J "my job"//python=python3');
    assert.deepEqual(spec.slurm, {
      raw: '-p debug --time=10 -J "my job"',
      options: ['-p', 'debug', '--time=10', '-J', 'my job'],
    });
    assert.deepEqual(spec.python, ['python3']);
  });

  test('slurm_job, slurm_tasks and slurm_pending fill their fields', () => {
    const spec = checkSpec('slurm//slurm_job=1234//slurm_tasks=8//slurm_pending=60');
    assert.equal(spec.slurmJob, '1234');
    assert.equal(spec.slurmTasks, 8);
    assert.equal(spec.slurmPending, 60);
    assert.equal(checkSpec('slurm//slurm_job=1234_7').slurmJob, '1234_7');
  });

  test('docker=CONTAINER and podman=CONTAINER exec; bare with image= runs a fresh one', () => {
    assert.equal(checkSpec('docker=web').container, 'web');
    assert.equal(checkSpec('podman=3f2a9c').type, 'podman');
    const fresh = checkSpec(
      'podman//image=localhost/py:3.12//container_args=-v /data:/data -u 1000',
    );
    assert.equal(fresh.container, undefined);
    assert.equal(fresh.image, 'localhost/py:3.12');
    assert.deepEqual(fresh.containerArgs, ['-v', '/data:/data', '-u', '1000']);
  });

  test('via works with slurm, docker and podman', () => {
    assert.equal(checkSpec('slurm=-p debug//via=login').via, 'login');
    assert.equal(checkSpec('docker=web//via=box').via, 'box');
  });

  test('bad values are refused naming the item', () => {
    rejects('slurm=', 'slurm=', 'write slurm=OPTIONS', 'just slurm');
    rejects('slurm//slurm_job=abc', 'slurm_job=abc', 'bad job id');
    rejects('slurm//slurm_tasks=0', 'slurm_tasks=0', 'a whole number from 1');
    rejects('slurm//slurm_pending=1.5', 'slurm_pending=1.5', 'a number of seconds');
    rejects('slurm=-p "debug', 'slurm=-p "debug', 'unclosed');
    rejects('docker=my container', 'docker=my container', 'no whitespace');
  });

  test('slurm keys belong to slurm, container keys to docker and podman', () => {
    rejects('popen//slurm_job=12', 'slurm_job=12', 'only applies to slurm gateways, not popen');
    rejects('ssh=h//slurm_tasks=2', 'slurm_tasks=2', 'only applies to slurm');
    rejects('slurm//image=x', 'image=x', 'only applies to docker and podman gateways, not slurm');
    rejects('popen//container_args=-u 1', 'container_args=-u 1', 'docker and podman');
  });

  test('a container gateway names a container or an image, not both, not neither', () => {
    rejects('podman', 'podman', 'missing container', 'podman=CONTAINER', 'podman//image=IMAGE');
    rejects('docker=web//image=py', 'image=py', 'both say where to run');
  });

  test('sudo does not work with slurm or containers, with a hint each', () => {
    rejects('slurm//sudo=x', 'sudo=x', 'jobs run as the user who submits them');
    rejects('podman=web//sudo=x', 'sudo=x', 'container_args=-u x');
  });

  for (const raw of [
    'slurm',
    'slurm=-p debug --time=10//python=python3//slurm_tasks=4//slurm_pending=30',
    'slurm=-A proj//slurm_job=77//via=login//id=task',
    'podman=web//python=/usr/bin/python3//container_args=-u 1000 -w /srv',
    'docker//image=python:3.12-slim//via=box',
  ]) {
    test(`round-trips ${raw}`, () => {
      const spec = checkSpec(raw);
      const text = formatSpec(spec);
      const again = checkSpec(text);
      assert.deepEqual({ ...again, xspec: spec.xspec }, { ...spec, raw: text });
      assert.equal(formatSpec(again), text, 'canonical: formatting again is stable');
    });
  }
});
