// `npm run test:electron`: the same integration suites in desktop VS Code through
// @vscode/test-electron (downloads VS Code from Microsoft's update host, so it needs internet).
// Runs the trusted suites, then the untrusted one with workspace trust on.

import fs from 'node:fs';
import path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { spawnSync } from 'node:child_process';
import { newRunDir, QUIET_SETTINGS, ROOT } from './host.mjs';
import { makeTestWorkspace } from './integration.mjs';
import { buildTests } from './test.mjs';

const VSCODE_VERSION = process.env.VSCODE_VERSION || '1.100.3';

async function suite(dir, tests, untrusted) {
  fs.mkdirSync(dir, { recursive: true });
  const workspace = makeTestWorkspace(dir);
  const userData = path.join(dir, 'user-data');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(userData, 'User', 'settings.json'),
    JSON.stringify({
      ...QUIET_SETTINGS,
      'security.workspace.trust.enabled': untrusted,
      'security.workspace.trust.startupPrompt': 'never',
    }),
  );
  const report = path.join(dir, 'report.txt');
  try {
    await runTests({
      version: VSCODE_VERSION,
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: tests,
      launchArgs: [
        workspace,
        '--user-data-dir',
        userData,
        '--disable-extensions',
        ...(untrusted ? [] : ['--disable-workspace-trust']),
      ],
      extensionTestsEnv: {
        EXECNET_TEST_REPORT: report,
        ...(untrusted ? { EXECNET_TEST_UNTRUSTED: '1' } : {}),
      },
    });
    return true;
  } catch (error) {
    console.error(`${untrusted ? 'untrusted' : 'integration'}: ${error}`);
    return false;
  }
}

async function main() {
  const build = spawnSync(process.execPath, ['esbuild.mjs', '--production'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (build.status !== 0) {
    process.exit(1);
  }
  const tests = await buildTests();
  const dir = newRunDir('electron');
  const trusted = await suite(path.join(dir, 'integration'), tests, false);
  const untrusted = await suite(path.join(dir, 'untrusted'), tests, true);
  console.log(
    `electron: integration ${trusted ? 'passed' : 'FAILED'}, untrusted ${untrusted ? 'passed' : 'FAILED'} (reports in ${dir})`,
  );
  process.exit(trusted && untrusted ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
