// The `execnet.*` settings, read with their defaults and checked: a malformed entry is skipped and
// named in the log rather than breaking a command.

import * as vscode from 'vscode';
import { gatewayCount, parseSpec } from '../core/spec';

export interface GatewayConfig {
  readonly name: string;
  readonly spec: string;
  readonly group: string;
  readonly rsyncTarget?: string;
}

export type TraceSetting = 'off' | 'local' | 'verbose';

/** Whether a spec starts several gateways (a Slurm fan-out, slurm_tasks=N). */
function isFanOut(spec: string): boolean {
  try {
    return gatewayCount(parseSpec(spec)) > 1;
  } catch {
    return false;
  }
}

export class Settings {
  constructor(private readonly warn: (message: string) => void = () => undefined) {}

  private get config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration('execnet', vscode.workspace.workspaceFolders?.[0]);
  }

  /** `execnet.gateways`, well-formed entries only. */
  gateways(): GatewayConfig[] {
    const raw = this.config.get<unknown>('gateways');
    if (!Array.isArray(raw)) {
      return [];
    }
    const out: GatewayConfig[] = [];
    raw.forEach((value: unknown, i) => {
      const entry = value as Partial<Record<keyof GatewayConfig, unknown>> | null;
      if (
        !entry ||
        typeof entry !== 'object' ||
        typeof entry.name !== 'string' ||
        typeof entry.spec !== 'string' ||
        entry.name === '' ||
        entry.spec === ''
      ) {
        this.warn(`execnet.gateways[${i}] is skipped: it needs a "name" and a "spec" string`);
        return;
      }
      out.push({
        name: entry.name,
        spec: entry.spec,
        group:
          typeof entry.group === 'string' && entry.group !== ''
            ? entry.group
            : isFanOut(entry.spec)
              ? entry.name // a fan-out's tasks are a group of their own
              : 'default',
        rsyncTarget: typeof entry.rsyncTarget === 'string' ? entry.rsyncTarget : undefined,
      });
    });
    return out;
  }

  /** `execnet.defaultGateway`: a configured name or a spec; '' when unset. */
  defaultGateway(): string {
    return (this.config.get<string>('defaultGateway') ?? '').trim();
  }

  rsyncExclude(): string[] {
    const value = this.config.get<unknown>('rsync.exclude');
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  }

  rsyncTarget(): string {
    return this.config.get<string>('rsync.target') || '~/execnet-sync/${workspaceFolderBasename}';
  }

  rsyncDelete(): boolean {
    return this.config.get<boolean>('rsync.delete') === true;
  }

  syncBeforeRun(): boolean {
    return this.config.get<boolean>('syncBeforeRun') === true;
  }

  terminateTimeout(): number {
    const value = this.config.get<number>('terminateTimeout');
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 10;
  }

  /** `execnet.debug.debugpyPath`: the debugpy to ship; '' to find one with a local Python. */
  debugpyPath(): string {
    return (this.config.get<string>('debug.debugpyPath') ?? '').trim();
  }

  traceLevel(): TraceSetting {
    const value = this.config.get<string>('trace.level');
    return value === 'local' || value === 'verbose' ? value : 'off';
  }
}
