// The engine's wall: nothing under src/core may reach the editor API or the editor-side folders,
// so the core runs (and is tested) in plain Node. ESLint says the same; this also catches dynamic
// import() and files outside ESLint's reach.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const root = path.resolve(__dirname, '..', '..');
const core = path.join(root, 'src', 'core');
const editorSide = [path.join(root, 'src', 'views'), path.join(root, 'src', 'extension')];

interface Import {
  file: string;
  line: number;
  specifier: string;
}

function coreSources(): string[] {
  return fs
    .readdirSync(core, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.[cm]?[jt]s$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Every static import, export-from, require() and import() of every module under src/core. */
function coreImports(): Import[] {
  return coreSources().flatMap((file) => {
    const source = fs.readFileSync(file, 'utf8');
    const info = ts.preProcessFile(source, true, true);
    return info.importedFiles.map((ref) => ({
      file: path.relative(root, file),
      line: source.slice(0, ref.pos).split('\n').length,
      specifier: ref.fileName,
    }));
  });
}

const describe = (i: Import) => `${i.file}:${i.line} imports '${i.specifier}'`;

test('src/core has modules to check', () => {
  assert.ok(coreSources().length > 0, `no modules found under ${core}`);
});

test('no module under src/core imports vscode', () => {
  const offending = coreImports().filter(
    (i) => i.specifier === 'vscode' || i.specifier.startsWith('vscode/'),
  );
  assert.deepEqual(
    offending.map(describe),
    [],
    'the engine must stay free of the editor API; move editor code to src/views or src/extension',
  );
});

test('no module under src/core imports from src/views or src/extension', () => {
  const offending = coreImports().filter((i) => {
    if (!i.specifier.startsWith('.')) {
      return false;
    }
    const target = path.resolve(root, path.dirname(i.file), i.specifier);
    return editorSide.some((dir) => target === dir || target.startsWith(dir + path.sep));
  });
  assert.deepEqual(offending.map(describe), [], 'the engine must not depend on the editor side');
});
