// The compiled remote code of a local interpreter outlives the process that compiled it, so a
// new process (each CLI run is one) starts its first gateway without compiling; it is private
// to the user and checked before use.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultPython } from '../helpers/pythons';
import { runScript } from '../helpers/scripts';

const cacheHome = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-cache-'));
after(() => fs.rmSync(cacheHome, { recursive: true, force: true }));

/** Starts one gateway in a new process (the ordinary way, no warm start); whether it compiled. */
async function firstGatewayCompiled(): Promise<boolean> {
  const script = `
    const { makeGateway } = require(${JSON.stringify(path.resolve('src/core/index.ts'))});
    makeGateway('popen//python=${defaultPython()}').then(async (gw) => {
      const cached = await gw.remoteExec(
        'channel.send(type(channel.gateway).__init__.__globals__["_boot_cached"])').receive();
      console.log(cached ? 'cached' : 'compiled');
      await gw.terminate();
    });`;
  const run = await runScript(script, { XDG_CACHE_HOME: cacheHome, EXECNET_WARM_START: '0' });
  assert.equal(run.code, 0, run.stderr);
  return run.stdout.trim() === 'compiled';
}

function cacheFiles(): string[] {
  const dir = path.join(cacheHome, 'execnet', 'compiled');
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((name) => path.join(dir, name)) : [];
}

describe('compiled remote code on disk', () => {
  it('a second process starts its first local gateway without compiling', async () => {
    assert.equal(await firstGatewayCompiled(), true, 'nothing cached yet: it compiles');
    const files = cacheFiles();
    assert.equal(files.length, 1);
    assert.equal(fs.statSync(path.dirname(files[0])).mode & 0o777, 0o700);
    assert.equal(fs.statSync(files[0]).mode & 0o777, 0o600);
    assert.equal(await firstGatewayCompiled(), false, 'the next process uses the cached code');
  });

  it('a damaged or foreign-writable file is not used: the gateway compiles and starts', async () => {
    const [file] = cacheFiles();
    const data = fs.readFileSync(file);
    data[data.length - 1] ^= 0xff;
    fs.writeFileSync(file, data);
    assert.equal(await firstGatewayCompiled(), true, 'a damaged file is ignored');
    assert.equal(await firstGatewayCompiled(), false, 'and replaced by a good one');
    fs.chmodSync(file, 0o666);
    assert.equal(await firstGatewayCompiled(), true, 'a file others may write is ignored');
  });
});
