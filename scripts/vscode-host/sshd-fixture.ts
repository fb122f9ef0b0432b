// A private sshd on 127.0.0.1 for the editor tests (test/helpers/sshd.ts), described as one line of
// JSON on stdout; it stops when its stdin closes (the runner ends it, or dies).
//   known:   a host in known_hosts, an unencrypted key: connects without a question
//   fresh:   a host not in known_hosts, a key with a passphrase: asks both questions
import fs from 'node:fs';
import path from 'node:path';
import { startSshd } from '../../test/helpers/sshd';

async function main(): Promise<void> {
  const sshd = await startSshd();
  const freshKnownHosts = path.join(sshd.dir, 'known_hosts_fresh');
  fs.writeFileSync(freshKnownHosts, '');
  const config = path.join(sshd.dir, 'ssh_config_editor');
  fs.writeFileSync(
    config,
    [
      'Host known',
      '  HostName 127.0.0.1',
      `  Port ${sshd.port}`,
      `  User ${sshd.user}`,
      `  IdentityFile ${sshd.key}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${sshd.knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      'Host fresh',
      '  HostName 127.0.0.1',
      `  Port ${sshd.port}`,
      `  User ${sshd.user}`,
      `  IdentityFile ${sshd.encryptedKey}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${freshKnownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '',
    ].join('\n'),
  );
  const spec = (host: string) => `ssh=${host}//ssh_config=${config}//python=${sshd.python}`;
  process.stdout.write(
    `${JSON.stringify({
      known: spec('known'),
      fresh: spec('fresh'),
      passphrase: sshd.passphrase,
      freshKnownHosts,
      pid: sshd.pid,
    })}\n`,
  );
  const stop = () => void sshd.stop().then(() => process.exit(0));
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
