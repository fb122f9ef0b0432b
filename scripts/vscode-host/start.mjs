// `npm start`: build and package the extension, install the .vsix into a code-server on
// 127.0.0.1 with a sample workspace of the Python examples, and print the URL to open. Runs until
// Ctrl-C, then stops code-server and everything it started.
//
//   PORT=8080 npm start        (default: 8080 if free, else any free port)

import fs from 'node:fs';
import net from 'node:net';
import { setInterval } from 'node:timers';
import path from 'node:path';
import {
  ensureCodeServer,
  freePort,
  HOST_DIR,
  installExtension,
  log,
  makeWorkspace,
  packageExtension,
  prepareState,
  startCodeServer,
} from './host.mjs';

const SAMPLE_SETTINGS = {
  'execnet.gateways': [
    { name: 'local', spec: 'popen//chdir=${workspaceFolder}' },
    { name: 'worker-1', spec: 'popen//chdir=${workspaceFolder}', group: 'workers' },
    { name: 'worker-2', spec: 'popen//chdir=${workspaceFolder}', group: 'workers' },
  ],
  'execnet.defaultGateway': 'local',
};

const SAMPLE_README = `# Execnet sample workspace

Open the Execnet view in the activity bar, then try:

- **hello.py**: press Ctrl+Alt+E (Cmd+Alt+E on a Mac) to run it on the default gateway \`local\`;
  its prints and the value it sends on \`channel\` show in the output channel \`execnet local · hello.py\`.
- **ratios.py**: run it and Ctrl+click a \`File "…", line N\` frame in the output to open that line.
- **echo.py**: run it, then *Execnet: Send to Channel…* with a Python literal such as \`(1, 'x')\`;
  *Interrupt* (in the view) stops it.
- **fanout.py**: *Execnet: Run File on Group* → \`workers\` runs it on two gateways at once.
- *Execnet: Sync Workspace to Gateway* mirrors this folder to \`~/execnet-sync/workspace\` on a gateway.

The gateways come from \`.vscode/settings.json\` (\`execnet.gateways\`).
`;

function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function main() {
  ensureCodeServer();
  const dir = path.join(HOST_DIR, 'start');
  fs.rmSync(path.join(dir, 'user-data'), { recursive: true, force: true });
  fs.rmSync(path.join(dir, 'extensions'), { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const vsix = packageExtension(path.join(dir, 'execnet-vscode.vsix'));
  const state = prepareState(dir, { 'security.workspace.trust.enabled': false });
  installExtension(state, vsix);
  const workspace = makeWorkspace(dir, SAMPLE_SETTINGS);
  fs.writeFileSync(path.join(workspace, 'README.md'), SAMPLE_README);

  const wanted = Number(process.env.PORT || 8080);
  const port = (await portFree(wanted)) ? wanted : await freePort();
  const host = await startCodeServer(state, { port });
  const url = `${host.url}?folder=${encodeURIComponent(workspace)}`;
  log(
    `code-server ${host.pid} is serving the extension (log: ${path.join(dir, 'code-server.log')})`,
  );
  console.log(`\n  Open ${url}\n\n  Ctrl-C stops it.\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) {
      return;
    }
    stopping = true;
    log('stopping code-server');
    await host.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  // npm does not pass a SIGTERM on to this script: when whoever started it is gone, so is it
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && void stop(), 1000).unref();
  const code = await host.exited;
  if (!stopping) {
    console.error(`code-server exited (${code}); see ${path.join(dir, 'code-server.log')}`);
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
