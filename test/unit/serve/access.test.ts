/** Token, cookie, loopback and Host rules of browser mode (main/serve/access.ts). */
import { describe, expect, it } from 'vitest';
import {
  allowedHostHeaders,
  checkToken,
  generateToken,
  isLoopbackHost,
  isWildcardHost,
  readCookie,
  sameToken,
  setCookieHeader,
  urlHost,
} from '../../../main/serve/access';

describe('browser-mode access rules', () => {
  it('makes fresh 32-byte base64url tokens that pass their own check', () => {
    const a = generateToken();
    const b = generateToken();
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(checkToken(a)).toBeNull();
    for (const weak of ['', 'short', 'a'.repeat(42), `${'a'.repeat(43)};`, `${'a'.repeat(43)} `])
      expect(checkToken(weak), weak).toMatch(/43 to 256/);
  });

  it('compares tokens exactly, whatever their lengths', () => {
    const t = generateToken();
    expect(sameToken(t, t)).toBe(true);
    expect(sameToken(`${t}x`, t)).toBe(false);
    expect(sameToken(t.slice(1), t)).toBe(false);
    expect(sameToken('', t)).toBe(false);
  });

  it('reads the right cookie and writes a strict one', () => {
    expect(readCookie('a=1; vireo_token_80=abc; b=2', 'vireo_token_80')).toBe('abc');
    expect(readCookie('vireo_token_800=abc', 'vireo_token_80')).toBeNull();
    expect(readCookie(undefined, 'x')).toBeNull();
    expect(readCookie('=x; x', 'x')).toBeNull();
    expect(setCookieHeader(80, 'tok')).toBe(
      'vireo_token_80=tok; HttpOnly; SameSite=Strict; Path=/',
    );
  });

  it('knows loopback and wildcard addresses', () => {
    for (const h of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      'localhost',
      'LOCALHOST',
    ])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of [
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '128.0.0.1',
      'localhost.evil.example',
      '::ffff:8.8.8.8',
      '',
    ])
      expect(isLoopbackHost(h), h).toBe(false);
    expect(isWildcardHost('0.0.0.0')).toBe(true);
    expect(isWildcardHost('::')).toBe(true);
    expect(isWildcardHost('0:0::0')).toBe(true);
    expect(isWildcardHost('127.0.0.1')).toBe(false);
    expect(urlHost('0:0:0:0:0:0:0:1')).toBe('[::1]');
  });

  it('accepts only its own Host names, with the port', () => {
    const hosts = allowedHostHeaders('127.0.0.1', 5000);
    expect([...hosts].sort()).toEqual(['127.0.0.1:5000', '[::1]:5000', 'localhost:5000'].sort());
    const wildcard = allowedHostHeaders('0.0.0.0', 5000);
    expect(wildcard.has('127.0.0.1:5000')).toBe(true);
    expect(wildcard.has('evil.example:5000')).toBe(false);
    expect(wildcard.has('127.0.0.1:5001')).toBe(false);
  });
});
