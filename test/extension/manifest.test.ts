// The extension's contributions hang together: menus name contributed commands and the tree's
// real contextValues, every command has the category, commands that need a tree item stay out
// of the palette, settings are described, and the package ships only what it should.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const contributes = manifest.contributes;

interface MenuItem {
  command: string;
  when?: string;
  group?: string;
}

const commands = new Map<string, { command: string; title: string; category?: string }>(
  contributes.commands.map((c: { command: string; title: string }) => [c.command, c]),
);
const menus = contributes.menus as Record<string, MenuItem[]>;

/** The contextValues src/views/tree.ts gives its items. */
const CONTEXT_VALUES = [
  'group',
  'gateway.connecting',
  'gateway.alive',
  'gateway.closing',
  'gateway.dead',
  'channel.open',
  'channel.closed',
  'session.idle',
  'session.busy',
  'session.closed',
];

test('every command is execnet.verbNoun with the Execnet category', () => {
  for (const command of commands.values()) {
    assert.match(command.command, /^execnet\.[a-z]+[A-Z][A-Za-z]*$/, command.command);
    assert.equal(command.category, 'Execnet', command.command);
  }
});

test('menus only name contributed commands', () => {
  for (const [menu, items] of Object.entries(menus)) {
    for (const item of items) {
      assert.ok(commands.has(item.command), `${menu}: ${item.command} is not contributed`);
    }
  }
});

test('tree menus match contextValues the tree produces', () => {
  const tree = menus['view/item/context'];
  for (const item of tree) {
    assert.match(item.when ?? '', /view == execnet\.gateways/, item.command);
    const exact = /viewItem == ([\w.]+)/.exec(item.when ?? '');
    const pattern = /viewItem =~ \/(.+)\//.exec(item.when ?? '');
    assert.ok(exact || pattern, `${item.command}: no viewItem condition`);
    const matches = CONTEXT_VALUES.filter((v) =>
      exact ? v === exact[1] : new RegExp(pattern?.[1] ?? '').test(v),
    );
    assert.ok(matches.length > 0, `${item.command}: '${item.when}' matches no tree item`);
  }
  // the tree's own source gives exactly these values
  const source = fs.readFileSync(path.join(root, 'src', 'views', 'tree.ts'), 'utf8');
  assert.match(source, /contextValue = 'group'/);
  assert.match(source, /contextValue = `gateway\.\$\{entry\.state\}`/);
  assert.match(source, /run\.isOpen \? 'channel\.open' : 'channel\.closed'/);
  assert.match(source, /contextValue = `session\.\$\{session\.state\}`/);
});

test('commands that act on a tree item are hidden from the palette', () => {
  const hidden = new Set(
    menus.commandPalette.filter((i) => i.when === 'false').map((i) => i.command),
  );
  for (const id of [
    'execnet.moveToGroup',
    'execnet.saveGatewayToSettings',
    'execnet.showChannelOutput',
    'execnet.terminateGroup',
    'execnet.dismissGateway',
  ]) {
    assert.ok(hidden.has(id), `${id} shows in the palette`);
  }
});

test('the run shortcut is bound where a Python editor has focus', () => {
  const run = contributes.keybindings.find(
    (k: { command: string }) => k.command === 'execnet.runFile',
  );
  assert.equal(run.key, 'ctrl+alt+e');
  assert.equal(run.mac, 'cmd+alt+e');
  assert.match(run.when, /editorTextFocus/);
  assert.match(run.when, /editorLangId == python/);
});

test('the run loop is at hand: Stop Run on Ctrl+Alt+M, Re-run Last, Interrupt in the palette', () => {
  const key = (command: string) =>
    contributes.keybindings.find((k: { command: string }) => k.command === command);
  assert.equal(key('execnet.stopRun').key, 'ctrl+alt+m');
  assert.equal(key('execnet.stopRun').when, 'execnet.running');
  assert.equal(key('execnet.rerunLast').key, 'ctrl+alt+shift+e');
  const palette = new Map(menus.commandPalette.map((i) => [i.command, i.when]));
  assert.equal(palette.get('execnet.interruptChannel'), 'execnet.running');
  assert.ok(!palette.has('execnet.stopRun'), 'Stop Run is always in the palette');
  assert.ok(!palette.has('execnet.rerunLast'), 'Re-run Last is always in the palette');
  // the editor title's stop button shows on a file that has a run going
  const stop = menus['editor/title'].find((i) => i.command === 'execnet.stopRun');
  assert.equal(stop?.when, 'resourcePath in execnet.runningFiles');
  assert.match(stop?.group ?? '', /^navigation/);
  assert.equal(commands.get('execnet.stopRun')?.title, 'Stop Run');
});

test('every setting has a description and a type', () => {
  const properties = contributes.configuration.properties as Record<
    string,
    { type?: string; description?: string; markdownDescription?: string }
  >;
  for (const name of [
    'execnet.gateways',
    'execnet.defaultGateway',
    'execnet.rsync.exclude',
    'execnet.rsync.target',
    'execnet.syncBeforeRun',
    'execnet.run.in',
    'execnet.run.whenRunning',
    'execnet.run.stopTimeout',
    'execnet.run.args',
    'execnet.run.clearOutput',
    'execnet.run.maxOutputs',
    'execnet.terminateTimeout',
    'execnet.trace.level',
  ]) {
    const property = properties[name];
    assert.ok(property, `${name} is not contributed`);
    assert.ok(property.type, `${name} has no type`);
    assert.ok(property.description || property.markdownDescription, `${name} has no description`);
  }
});

test('execnet.gateways items get snippets and examples in settings.json', () => {
  const items = contributes.configuration.properties['execnet.gateways'].items;
  assert.deepEqual(
    items.defaultSnippets.map((s: { label: string }) => s.label),
    ['Local Python', 'SSH host', 'Member of a group'],
  );
  for (const snippet of items.defaultSnippets) {
    assert.ok(snippet.body.name && snippet.body.spec, snippet.label);
  }
  for (const key of ['name', 'spec', 'group', 'rsyncTarget']) {
    assert.ok(items.properties[key].examples?.length > 0, `${key} has no examples`);
    assert.ok(
      items.properties[key].description || items.properties[key].markdownDescription,
      `${key} has no description`,
    );
  }
});

test('untrusted workspaces get the extension in limited mode, without workspace gateways', () => {
  const trust = manifest.capabilities.untrustedWorkspaces;
  assert.equal(trust.supported, 'limited');
  assert.ok(trust.restrictedConfigurations.includes('execnet.gateways'));
});

test('the package is an allowlist: the bundle, the remote sources, media, README, LICENSE', () => {
  const ignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
  const rules = ignore.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.equal(rules[0], '**');
  assert.deepEqual(rules.slice(1).sort(), [
    '!LICENSE',
    '!README.md',
    '!dist/extension.js',
    '!dist/remote/*.py',
    '!media/**',
    '!package.json',
  ]);
});

test('Shift+Enter runs the selection, cell or line in a Python editor, not in a notebook', () => {
  const binding = contributes.keybindings.find(
    (k: { command: string }) => k.command === 'execnet.runCurrent',
  );
  assert.equal(binding.key, 'shift+enter');
  assert.match(binding.when, /editorLangId == python/);
  assert.match(binding.when, /!notebookEditorFocused/);
  assert.match(binding.when, /!suggestWidgetVisible/);
});
