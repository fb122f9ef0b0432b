// Path mappings (a sync mirror): local paths under the mapped folder find their remote copies and
// back; paths outside it (or only sharing a prefix) are not mapped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toLocalPath, toRemotePath, type PathMapping } from '../../src/core/pathMapping';

const mapping: PathMapping = {
  localRoot: '/home/me/project',
  remoteRoot: '/srv/me/execnet-sync/project',
};

test('a file of the workspace maps to its mirror and back', () => {
  const remote = toRemotePath(mapping, '/home/me/project/pkg/train.py');
  assert.equal(remote, '/srv/me/execnet-sync/project/pkg/train.py');
  assert.equal(toLocalPath(mapping, remote!), '/home/me/project/pkg/train.py');
  assert.equal(toRemotePath(mapping, '/home/me/project'), '/srv/me/execnet-sync/project');
  assert.equal(toLocalPath(mapping, '/srv/me/execnet-sync/project'), '/home/me/project');
});

test('paths outside the synced folder are not mapped, even with a common prefix', () => {
  assert.equal(toRemotePath(mapping, '/home/me/project-old/a.py'), undefined);
  assert.equal(toRemotePath(mapping, '/home/me/other.py'), undefined);
  assert.equal(toLocalPath(mapping, '/srv/me/execnet-sync/projectx/a.py'), undefined);
  assert.equal(toLocalPath(mapping, '/usr/lib/python3.11/runpy.py'), undefined);
  assert.equal(
    toRemotePath(mapping, '/home/me/project/..hidden.py'),
    '/srv/me/execnet-sync/project/..hidden.py',
  );
});
