// The hosts New Gateway offers from an ssh config: Host names as written, without patterns,
// Include files followed, each once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { configuredHosts } from '../../src/core/ssh/config';

test('Host entries without wildcards, in order, from the config and what it includes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-hosts-'));
  try {
    const included = path.join(dir, 'more.conf');
    fs.writeFileSync(included, 'Host lab-gpu\n  HostName 10.0.0.7\n');
    const config = path.join(dir, 'config');
    fs.writeFileSync(
      config,
      [
        `Include ${included}`,
        'Host devbox "build server"',
        '  HostName 192.168.1.20',
        'Host *.internal !bastion',
        '  User me',
        'Host node? devbox',
        '  User ops',
        'Match host foo',
        '  User x',
        '',
      ].join('\n'),
    );
    assert.deepEqual(configuredHosts({ configFile: config }), [
      'lab-gpu',
      'devbox',
      'build server',
    ]);
    assert.deepEqual(configuredHosts({ configFile: path.join(dir, 'missing') }), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
