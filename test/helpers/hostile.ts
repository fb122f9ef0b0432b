// Remote code that attacks this side, for the tests that prove it cannot.

/**
 * Remote code that sends a handshake frame whose compiled code writes the uid it runs as to
 * `marker` (and exits): what a later start of a cached interpreter would run first.
 */
export function forgeHello(marker: string): string {
  return [
    'import importlib.util, marshal',
    `source = "import os\\nwith open(" + repr(${JSON.stringify(marker)}) + ", 'a') as f: f.write(str(os.getuid()))\\nos._exit(3)"`,
    'planted = compile(source, "<planted>", "exec")',
    'code = importlib.util.MAGIC_NUMBER + marshal.dumps(planted)',
    'gw = channel.gateway',
    'hello = {"protocol": 1, "code": code, "executable": "x", "version": [3, 0, 0], "pid": 1}',
    'gw._send(0, 0, gw._dumps(hello))',
    'gw._writer.flush()',
    'channel.send("sent")',
  ].join('\n');
}
