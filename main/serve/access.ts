/**
 * Who may talk to the browser-mode server: the token, its cookie, the Host and Origin checks.
 * Browser mode gives whoever holds the token full control of this host's VMs (and a file picker
 * over the host's folders), so every request must prove it has the token, and a page from
 * another site must not be able to borrow the browser's cookie or a rebound DNS name.
 *
 * - Token: 32 random bytes, base64url (43 characters). Compared in constant time (both sides are
 *   hashed first, so not even the length leaks through timing).
 * - Cookie: set on the first request that carries `?token=`, `HttpOnly; SameSite=Strict; Path=/`
 *   (RFC 6265bis section 5.4.7: a strict cookie is never sent on cross-site requests). Cookies
 *   ignore ports (RFC 6265 section 8.5), so the name carries the port: two servers on one host
 *   keep separate cookies.
 * - Host: only the names this server answers to (DNS-rebinding defence: a page on evil.example
 *   whose name was rebound to 127.0.0.1 still sends `Host: evil.example`).
 * - Origin (WebSocket upgrade): browsers send it on every WebSocket handshake (RFC 6455 section
 *   4.1, item 8), and it must be this server under the name the Host header used.
 *
 * Runtime: Node.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import os from 'node:os';

export const TOKEN_BYTES = 32;

export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** A caller-chosen token must be as unguessable and as URL/cookie-safe as a generated one. */
export function checkToken(token: string): string | null {
  if (!/^[A-Za-z0-9_-]{43,256}$/.test(token))
    return 'The token must be 43 to 256 characters of A-Z, a-z, 0-9, "-" and "_" (32 random bytes in base64url); leave it out to get a random one.';
  return null;
}

/** Constant-time comparison of a presented token with the real one. */
export function sameToken(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function cookieName(port: number): string {
  return `vireo_token_${port}`;
}

/** The value of one cookie in a Cookie header (RFC 6265 section 4.2.1), or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return null;
}

export function setCookieHeader(port: number, token: string): string {
  return `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

/** Whether an address or name stays on this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return new URL(`http://[${bare}]/`).hostname === '[::1]';
  return false;
}

/** Whether the bind address means "every interface". */
export function isWildcardHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return (
    bare === '0.0.0.0' || (isIP(bare) === 6 && new URL(`http://[${bare}]/`).hostname === '[::]')
  );
}

/** `host` as it appears in a URL or Host header (IPv6 in brackets, lower case). */
export function urlHost(host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return isIP(bare) === 6 ? new URL(`http://[${bare}]/`).host : bare;
}

/**
 * The `Host` header values this server accepts: the bound address and the loopback names; when
 * bound to every interface (with --allow-remote), also this machine's interface addresses and
 * host name. Other names (a DNS alias of this machine) are refused: use the address instead.
 */
export function allowedHostHeaders(boundHost: string, port: number): Set<string> {
  const names = new Set<string>([urlHost(boundHost), 'localhost', '127.0.0.1', '[::1]']);
  if (isWildcardHost(boundHost)) {
    for (const addresses of Object.values(os.networkInterfaces()))
      for (const a of addresses ?? []) names.add(urlHost(a.address.replace(/%.*$/, '')));
    names.add(os.hostname().toLowerCase());
  }
  return new Set([...names].map((n) => `${n}:${port}`));
}
