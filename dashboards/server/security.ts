/**
 * The dashboard's guards: which addresses count as loopback, the access token, and resolving a
 * user-supplied relative path inside a root folder without escaping it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { isAbsolute, resolve, sep } from 'node:path';

/** True for 127.0.0.0/8, ::1 and the name localhost: the addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^::ffff:127\.\d+\.\d+\.\d+$/.test(h)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export const TOKEN_COOKIE = 'nf_dashboard_token';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time comparison (hashing first makes the lengths equal). */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export type TokenSource = 'header' | 'cookie' | 'query';

/**
 * Finds the token a request carries: `Authorization: Bearer <t>`, the session cookie, or a
 * `?token=` query parameter (the link printed at start-up; the server then sets the cookie).
 */
export function requestToken(req: IncomingMessage, url: URL): { token: string; source: TokenSource } | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return { token: auth.slice(7).trim(), source: 'header' };
  const q = url.searchParams.get('token');
  if (q !== null) return { token: q, source: 'query' };
  const c = cookie(req, TOKEN_COOKIE);
  if (c !== undefined) return { token: c, source: 'cookie' };
  return null;
}

/**
 * Host header check against DNS rebinding: a page on another site that resolves its own name to
 * 127.0.0.1 must not be able to read a loopback-only dashboard.
 */
export function hostHeaderAllowed(hostHeader: string | undefined, boundHost: string): boolean {
  if (!isLoopbackHost(boundHost)) return true;
  if (!hostHeader) return false;
  const name = hostHeader.startsWith('[')
    ? hostHeader.slice(0, hostHeader.indexOf(']') + 1)
    : hostHeader.split(':')[0]!;
  return isLoopbackHost(name);
}

/** A relative path as a user may give it: no absolute paths, drive letters, backslashes, NULs or dot segments. */
export function isSafeRelativePath(rel: string): boolean {
  if (rel.length === 0 || rel.length > 1024) return false;
  if (rel.includes('\0') || rel.includes('\\')) return false;
  if (isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) return false;
  return rel.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/**
 * Resolves `rel` inside `root` and returns the real path of a regular file there, or null when
 * the path is unsafe, missing, not a file, or leaves `root` through a symlink. Callers answer
 * null with 404, so a probe cannot tell "outside" from "absent".
 */
export async function resolveInside(root: string, rel: string): Promise<string | null> {
  if (!isSafeRelativePath(rel)) return null;
  try {
    const realRoot = await realpath(root);
    const real = await realpath(resolve(realRoot, rel));
    if (!real.startsWith(realRoot + sep)) return null;
    const st = await stat(real);
    return st.isFile() ? real : null;
  } catch {
    return null;
  }
}

/**
 * For a path stored in the database (absolute, or relative to `root`): the real path of the
 * file if it lies inside `root`, else null.
 */
export async function resolveStoredPath(root: string, stored: string): Promise<string | null> {
  try {
    const realRoot = await realpath(root);
    const candidate = isAbsolute(stored) ? stored : resolve(realRoot, stored);
    const real = await realpath(candidate);
    if (!real.startsWith(realRoot + sep)) return null;
    const st = await stat(real);
    return st.isFile() ? real : null;
  } catch {
    return null;
  }
}
