// Code and habits ported from execnet behave the same: each test asks the real execnet (Debian's
// python3-execnet) what it does and checks that this engine does that too, or states where it
// deliberately does more (docs/execnet-differences.md).

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RemoteError } from '../../src/core/errors';
import { askExecnet, EXECNET_PYTHON } from '../helpers/execnet';
import { testGroup } from '../helpers/gateways';

/** How a remote exec ended, in terms both sides share. */
interface Ending {
  readonly error: string | null; // the local exception's class name
  readonly lastLine: string | null; // the traceback's last line
  readonly alive: boolean; // the gateway still runs code afterwards
}

/** Runs each source on a fresh execnet popen gateway and reports how it ended. */
function execnetEndings(sources: readonly string[]): Ending[] {
  return askExecnet<Ending[]>(
    `
gw = execnet.makegateway("popen")
out = []
for source in data:
    try:
        gw.remote_exec(source).waitclose(30)
        out.append({"error": None, "lastLine": None})
    except Exception as e:
        out.append({"error": type(e).__name__, "lastLine": str(e).rstrip("\\n").split("\\n")[-1]})
    out[-1]["alive"] = gw.remote_exec("channel.send(1)").receive(30) == 1
gw.exit()
json.dump(out, sys.stdout)
`,
    sources,
  );
}

describe('remote errors, as execnet reports them', () => {
  it('SystemExit, with any code or none, is a RemoteError and the gateway keeps running', async () => {
    const sources = [
      'raise SystemExit()',
      'raise SystemExit(0)',
      'import sys\nsys.exit(0)',
      'raise SystemExit(3)',
      'import sys\nsys.exit("bye")',
    ];
    const expected = execnetEndings(sources);
    const tg = testGroup();
    const gw = await tg.gateway(undefined, EXECNET_PYTHON);
    const codes: Array<number | undefined> = [];
    for (const source of sources) {
      const channel = gw.remoteExec(source);
      const ending: Partial<Ending> = await channel.waitClose(30).then(
        () => ({ error: null, lastLine: null }),
        (error: unknown) => {
          assert.ok(error instanceof RemoteError, String(error));
          codes.push(error.exitCode);
          return { error: 'RemoteError', lastLine: error.traceback.trimEnd().split('\n').at(-1) };
        },
      );
      const alive = (await gw.remoteExec('channel.send(1)').receive(30)) === 1;
      assert.deepEqual({ ...ending, alive }, expected[sources.indexOf(source)], source);
    }
    // the status each asked for, as the interpreter would exit with it
    assert.deepEqual(codes, [0, 0, 0, 3, 1]);
    await tg.close();
  });

  it('the text starts with the traceback header, for a SyntaxError in the sent source too', async () => {
    const source = 'x = 1\ny = (';
    const [execnetText] = askExecnet<string[]>(
      `
gw = execnet.makegateway("popen")
try:
    gw.remote_exec(data).waitclose(30)
except execnet.RemoteError as e:
    json.dump([str(e)], sys.stdout)
gw.exit()
`,
      source,
    );
    const tg = testGroup();
    const gw = await tg.gateway(undefined, EXECNET_PYTHON);
    const error = await gw
      .remoteExec(source)
      .waitClose(30)
      .then(
        () => assert.fail('expected a RemoteError'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof RemoteError);
    const header = 'Traceback (most recent call last):\n';
    assert.ok(execnetText.startsWith(header), execnetText);
    assert.ok(error.message.startsWith(header), error.message);
    // execnet's own compile() frame sits between; the part about the source is the same
    const tail = (text: string) => text.slice(text.indexOf('  File "<remote exec>"'));
    assert.equal(tail(error.message), tail(execnetText));
    assert.match(error.message, /File "<remote exec>", line 2\n {4}y = \(\n/);
    await tg.close();
  });

  it('a traceback of a plain source string shows the failing line (execnet shows only its number)', async () => {
    const source = 'a = 1\nb = undefined_name\n';
    const [execnetText] = askExecnet<string[]>(
      `
gw = execnet.makegateway("popen")
try:
    gw.remote_exec(data).waitclose(30)
except execnet.RemoteError as e:
    json.dump([str(e)], sys.stdout)
gw.exit()
`,
      source,
    );
    assert.match(execnetText, /File "<remote exec>", line 2, in <module>\nNameError/);
    const tg = testGroup();
    const gw = await tg.gateway(undefined, EXECNET_PYTHON);
    const error = await gw
      .remoteExec(source)
      .waitClose(30)
      .then(
        () => assert.fail('expected a RemoteError'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof RemoteError);
    assert.match(
      error.message,
      /File "<remote exec>", line 2, in <module>\n {4}b = undefined_name\n/,
    );
    await tg.close();
  });

  it('execs failing at once under the same name each show their own line', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const sources = Array.from(
      { length: 8 },
      (_, i) => `import time\ntime.sleep(0.05)\nfailing_${i} = undefined_${i}\n`,
    );
    const errors = await Promise.all(
      sources.map((source) =>
        gw
          .remoteExec(source)
          .waitClose(30)
          .catch((e: unknown) => e),
      ),
    );
    errors.forEach((error, i) => {
      assert.ok(error instanceof RemoteError);
      assert.match(
        error.message,
        new RegExp(`line 3, in <module>\\n {4}failing_${i} = undefined_${i}\\n`),
      );
    });
    await tg.close();
  });
});
