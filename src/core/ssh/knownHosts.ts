// known_hosts, read and written as OpenSSH does: plain and hashed (`|1|salt|hash`) host fields,
// comma-separated patterns with `*`/`?` and `!` negation, `[host]:port` for other ports, and the
// `@revoked` marker. A key is trusted when some line for the host holds exactly that key.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface KnownHostEntry {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  readonly marker?: 'revoked' | 'cert-authority';
  readonly keyType: string;
  readonly key: Buffer;
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH's fingerprint: `SHA256:` and the unpadded base64 of the key blob's SHA-256. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`...). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) {
    return 'unknown';
  }
  const length = key.readUInt32BE(0);
  return key.subarray(4, 4 + length).toString('latin1');
}

function globMatch(pattern: string, name: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return regex.test(name);
}

/** Does a known_hosts host field (patterns, or one hashed name) cover `name`? */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) {
      return false;
    }
    const digest = crypto
      .createHmac('sha1', Buffer.from(salt, 'base64'))
      .update(name)
      .digest('base64');
    return digest === hash;
  }
  let matched = false;
  for (const pattern of field.split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatch(pattern.slice(1), name)) {
        return false;
      }
    } else if (globMatch(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

/** Every line of these files that applies to one of `names`, in file order. */
export function lookupKnownHosts(
  files: readonly string[],
  names: readonly string[],
): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    text.split(/\r?\n/).forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) {
        return;
      }
      const fields = line.split(/\s+/);
      let marker: KnownHostEntry['marker'];
      if (fields[0].startsWith('@')) {
        const name = fields.shift()?.slice(1);
        if (name !== 'revoked' && name !== 'cert-authority') {
          return;
        }
        marker = name;
      }
      const [hosts, keyType, base64] = fields;
      if (!hosts || !keyType || !base64) {
        return;
      }
      if (!names.some((name) => hostFieldMatches(hosts, name))) {
        return;
      }
      entries.push({ file, line: index + 1, marker, keyType, key: Buffer.from(base64, 'base64') });
    });
  }
  return entries;
}

export type HostKeyVerdict =
  | { readonly kind: 'trusted'; readonly entry: KnownHostEntry }
  | { readonly kind: 'revoked'; readonly entry: KnownHostEntry }
  | { readonly kind: 'changed'; readonly entry: KnownHostEntry }
  | { readonly kind: 'unknown' };

/** Compares a presented key with what known_hosts says about the host. */
export function checkHostKey(entries: readonly KnownHostEntry[], key: Buffer): HostKeyVerdict {
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) {
    return { kind: 'revoked', entry: revoked };
  }
  const plain = entries.filter((e) => e.marker === undefined);
  const trusted = plain.find((e) => e.key.equals(key));
  if (trusted) {
    return { kind: 'trusted', entry: trusted };
  }
  if (plain.length === 0) {
    return { kind: 'unknown' };
  }
  // Prefer reporting a line with the same key type: that is the key that changed.
  const type = keyTypeOf(key);
  return { kind: 'changed', entry: plain.find((e) => e.keyType === type) ?? plain[0] };
}

/** Adds a host key line (hashed when asked, as `HashKnownHosts yes` does). */
export function addKnownHost(file: string, name: string, key: Buffer, hashed: boolean): void {
  let host = name;
  if (hashed) {
    const salt = crypto.randomBytes(20);
    const hash = crypto.createHmac('sha1', salt).update(name).digest('base64');
    host = `|1|${salt.toString('base64')}|${hash}`;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const existing = fs.readFileSync(file, 'utf8');
    prefix = existing.length > 0 && !existing.endsWith('\n') ? '\n' : '';
  } catch {
    // a new file
  }
  fs.appendFileSync(file, `${prefix}${host} ${keyTypeOf(key)} ${key.toString('base64')}\n`, {
    mode: 0o600,
  });
}

/** Host key algorithms ssh2 should offer, the types known_hosts has for this host first. */
export function preferredHostKeyAlgorithms(entries: readonly KnownHostEntry[]): string[] {
  const all = [
    'ssh-ed25519',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'rsa-sha2-512',
    'rsa-sha2-256',
    'ssh-rsa',
  ];
  const known = new Set<string>();
  for (const entry of entries) {
    if (entry.marker === undefined) {
      if (entry.keyType === 'ssh-rsa') {
        known.add('rsa-sha2-512').add('rsa-sha2-256').add('ssh-rsa');
      } else {
        known.add(entry.keyType);
      }
    }
  }
  return [...all.filter((a) => known.has(a)), ...all.filter((a) => !known.has(a))];
}
