/**
 * Maps a request path to a file of the renderer bundle, and nothing else. Shared by the
 * browser-mode server (main/serve) and the Electron `vireo://app/` protocol (main/app), so both
 * refuse the same hostile paths in the same way.
 *
 * A path is refused (null) when, after one round of percent-decoding (RFC 3986 section 2.1), it
 * holds a NUL byte or a backslash, has a `..` segment (literal, `%2e%2e`, or hidden behind an
 * encoded `%2f`), or resolves - through symlinks, by realpath - to anything outside the root or
 * to anything but a regular file (no directory listings, and no FIFO a read would block on).
 * An unknown path without a file extension is a route of the single-page app (the console route,
 * later) and gets index.html.
 *
 * Runtime: Node.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Content types for what Vite emits; anything else is served as an opaque download type. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** A bundle folder, resolved once: every answer is checked against its real path. */
export interface StaticRoot {
  /** The root's real path (symlinks resolved). */
  readonly real: string;
  /** The file a URL path names, or null when it must be refused (then answer 404). */
  resolve(urlPath: string): Promise<StaticFile | null>;
}

export interface StaticFile {
  path: string;
  sizeBytes: number;
  contentType: string;
}

/** Throws a sentence naming the folder and what to do when the bundle is not there. */
export async function openStaticRoot(folder: string): Promise<StaticRoot> {
  let real: string;
  try {
    real = await fs.realpath(folder);
    if (!(await fs.stat(real)).isDirectory()) throw new Error('not a folder');
  } catch {
    throw new Error(
      `The renderer bundle is missing at ${folder}: run \`npm run build\` first (or point VIREO_RENDERER_DIR at a built bundle).`,
    );
  }
  const inside = (p: string): boolean => p === real || p.startsWith(real + path.sep);

  const fileAt = async (candidate: string): Promise<StaticFile | null> => {
    let target: string;
    try {
      target = await fs.realpath(candidate);
    } catch {
      return null;
    }
    if (!inside(target)) return null;
    const stat = await fs.stat(target).catch(() => null);
    if (!stat?.isFile()) return null;
    return { path: target, sizeBytes: stat.size, contentType: contentTypeOf(target) };
  };

  return {
    real,
    async resolve(urlPath) {
      const segments = safeSegments(urlPath);
      if (!segments) return null;
      if (segments.length === 0) return fileAt(path.join(real, 'index.html'));
      const found = await fileAt(path.join(real, ...segments));
      if (found) return found;
      // Only a missing path is a client-side route; a refused one (symlink out, directory) is not.
      const exists = await fs.lstat(path.join(real, ...segments)).then(
        () => true,
        () => false,
      );
      const last = segments[segments.length - 1] ?? '';
      if (!exists && path.extname(last) === '') return fileAt(path.join(real, 'index.html'));
      return null;
    },
  };
}

/**
 * The path's segments after one percent-decoding, or null when the path is hostile or malformed.
 * Empty and `.` segments are dropped; `..` is refused outright rather than normalised away, so a
 * request can never even name a place above the root.
 */
export function safeSegments(urlPath: string): string[] | null {
  if (!urlPath.startsWith('/')) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null; // malformed escape such as %E0%A4%A
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..')) return null;
  return segments;
}
