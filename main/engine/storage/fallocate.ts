/**
 * fallocate(2) from libc through koffi (Node has no binding): mode 0 reserves blocks for a
 * preallocated image, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE deallocates a discarded range
 * (linux/falloc.h). Loaded lazily, so opening an image costs nothing until a discard or a
 * preallocation needs it; where libc or the file system cannot, callers fall back to zeros.
 *
 * Runtime: engine (device thread) and control plane.
 */
import koffi from 'koffi';

const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;

type Fallocate = (fd: number, mode: number, offset: number, length: number) => number;
let bound: Fallocate | null | undefined;

function fallocate(): Fallocate | null {
  if (bound !== undefined) return bound;
  try {
    const lib = koffi.load('libc.so.6');
    const fn = lib.func('int fallocate(int fd, int mode, int64_t offset, int64_t len)');
    bound = (fd, mode, offset, length) => fn(fd, mode, offset, length) as number;
  } catch {
    bound = null; // not glibc Linux: callers write zeros instead
  }
  return bound;
}

/** Reserves the range's blocks; false if fallocate is unavailable or refused (e.g. tmpfs quirks). */
export function fallocateRange(fd: number, offset: number, length: number): boolean {
  const fn = fallocate();
  return fn !== null && length > 0 && fn(fd, 0, offset, length) === 0;
}

/** Deallocates the range without changing the file size; it then reads as zeros. */
export function punchHole(fd: number, offset: number, length: number): boolean {
  const fn = fallocate();
  return (
    fn !== null &&
    length > 0 &&
    fn(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) === 0
  );
}
