// Python modules of remote/ that run on a gateway through remote_exec, shipped on first use: the
// first exec on a gateway sends the module's source, and its entry function keeps the module in
// sys.modules under a name that changes with the source (`keep_as`); once it has answered there,
// later execs send only a call. The bootstrap stays small: features bring their remote half when
// first used.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { remoteSourceDir } from './bootstrap';
import type { Channel } from './channel';

/** Where a module runs: a gateway, or anything that runs code the way one does. */
export interface RemoteModuleHost {
  remoteExec(source: {
    readonly source: string;
    readonly filename?: string;
    readonly call?: string;
    readonly kwargs?: Readonly<Record<string, unknown>>;
    readonly aside?: boolean;
  }): Channel;
}

export class RemoteModule {
  private source: { text: string; key: string } | undefined;
  private readonly keptOn = new WeakSet<RemoteModuleHost>();

  /**
   * `file` in remote/ (e.g. `rsync_remote.py`), whose entry function `call(channel, **kwargs,
   * keep_as=KEY)` keeps it; tracebacks name it `filename` (by default the file's name).
   */
  constructor(
    private readonly file: string,
    private readonly call: string,
    private readonly filename = file,
  ) {}

  /**
   * Run a function of the module on the host (by default its entry); returns its channel. Before
   * the module is kept there, the whole source goes, and the entry is told to keep it.
   */
  exec(
    host: RemoteModuleHost,
    kwargs: Record<string, unknown>,
    call = this.call,
    options: { readonly aside?: boolean } = {},
  ): Channel {
    const { text, key } = this.read();
    if (this.keptOn.has(host)) {
      return host.remoteExec({
        source: `import sys\n${call} = sys.modules[${JSON.stringify(key)}].${call}\n`,
        filename: this.filename,
        call,
        kwargs,
        ...options,
      });
    }
    return host.remoteExec({
      source: text,
      filename: this.filename,
      call,
      kwargs: call === this.call ? { ...kwargs, keep_as: key } : kwargs,
      ...options,
    });
  }

  /** The module answered on this host, so it is kept there: later execs send only a call. */
  kept(host: RemoteModuleHost): void {
    this.keptOn.add(host);
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
