/**
 * A StorageFile in memory that models what a power cut keeps: writes since the last fdatasync
 * may or may not have reached the disk, in any combination. `crashImage` returns one such
 * outcome (the synced bytes plus a random subset of the unsynced writes), so a test can check
 * that every outcome is a consistent image.
 */
import type { StorageFile } from '../../../main/engine/storage/file.js';

export class MemoryFile implements StorageFile {
  /** Current contents in a buffer that grows by doubling; `length` is the file size. */
  private current: Uint8Array;
  private length: number;
  private durable: Uint8Array;
  private pending: Array<{ position: number; bytes: Uint8Array }> = [];
  /** Called before each write and each sync (the test takes crash snapshots here). */
  onWrite: (() => void) | undefined;
  writes = 0;

  constructor(initial: Uint8Array) {
    this.current = new Uint8Array(initial);
    this.length = initial.length;
    this.durable = new Uint8Array(initial);
  }

  read(into: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const n = Math.max(0, Math.min(length, this.length - position));
    into.set(this.current.subarray(position, position + n), offset);
    return Promise.resolve(n);
  }

  write(from: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    this.onWrite?.();
    this.writes++;
    const bytes = from.slice(offset, offset + length);
    const end = position + length;
    if (end > this.current.length) {
      const grown = new Uint8Array(Math.max(end, this.current.length * 2));
      grown.set(this.current.subarray(0, this.length));
      this.current = grown;
    }
    this.current.set(bytes, position);
    if (end > this.length) this.length = end;
    this.pending.push({ position, bytes });
    return Promise.resolve();
  }

  datasync(): Promise<void> {
    this.onWrite?.(); // a power cut just before the sync completes
    this.durable = this.current.slice(0, this.length);
    this.pending = [];
    return Promise.resolve();
  }

  size(): Promise<number> {
    return Promise.resolve(this.length);
  }

  truncate(length: number): Promise<void> {
    const next = new Uint8Array(length);
    next.set(this.current.subarray(0, Math.min(length, this.length)));
    this.current = next;
    this.length = length;
    this.pending.push({ position: length, bytes: new Uint8Array(0) });
    return Promise.resolve();
  }

  allocate(position: number, length: number): Promise<boolean> {
    if (position + length > this.length) return this.truncate(position + length).then(() => true);
    return Promise.resolve(true);
  }

  punchHole(): Promise<boolean> {
    return Promise.resolve(false);
  }

  allocatedBytes(): Promise<number> {
    return Promise.resolve(this.length);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** One possible disk after a power cut now: synced bytes plus some of the unsynced writes. */
  crashImage(rand: () => number): Uint8Array {
    let image: Uint8Array = this.durable.slice();
    for (const w of this.pending) if (rand() < 0.5) image = place(image, w.bytes, w.position);
    return image;
  }

  bytes(): Uint8Array {
    return this.current.slice(0, this.length);
  }
}

function place(target: Uint8Array, bytes: Uint8Array, position: number): Uint8Array {
  let out = target;
  if (position + bytes.length > target.length) {
    out = new Uint8Array(position + bytes.length);
    out.set(target);
  }
  out.set(bytes, position);
  return out;
}
