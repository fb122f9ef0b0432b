// Python modules of remote/ that run on a gateway through remote_exec, shipped on first use: the
// first exec on a gateway sends the module's source, which keeps itself in sys.modules under a name
// that changes with the source (`keep_as`); once the module has answered there, later execs send
// only a call. The bootstrap stays small: features bring their remote half when first used.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { remoteSourceDir } from './bootstrap';
import type { Channel } from './channel';
import type { Gateway } from './gateway';

export class RemoteModule {
  private source: { text: string; key: string } | undefined;
  private readonly keptOn = new WeakSet<Gateway>();

  /** `file` in remote/ (e.g. `rsync_remote.py`), whose function `call(channel, **kwargs)` runs. */
  constructor(
    private readonly file: string,
    private readonly call: string,
  ) {}

  /** Run the module's function on the gateway; returns its channel. */
  exec(gateway: Gateway, kwargs: Record<string, unknown>): Channel {
    const { text, key } = this.read();
    if (this.keptOn.has(gateway)) {
      return gateway.remoteExec({
        source: `import sys\n${this.call} = sys.modules[${JSON.stringify(key)}].${this.call}\n`,
        filename: this.file,
        call: this.call,
        kwargs,
      });
    }
    return gateway.remoteExec({
      source: text,
      filename: this.file,
      call: this.call,
      kwargs: { ...kwargs, keep_as: key },
    });
  }

  /** The module answered on this gateway, so it is kept there: later execs send only a call. */
  kept(gateway: Gateway): void {
    this.keptOn.add(gateway);
  }

  private read(): { text: string; key: string } {
    if (!this.source) {
      const text = fs.readFileSync(path.join(remoteSourceDir(), this.file), 'utf8');
      const hash = crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
      this.source = { text, key: `_execnet_${path.basename(this.file, '.py')}_${hash}` };
    }
    return this.source;
  }
}
