/**
 * A guest's scatter list seen as one byte range: the buffers a request reads into, in order.
 * The qcow2 reader walks the range cluster by cluster and asks for the buffers under each run
 * of clusters, so a run that sits contiguously in the file becomes one preadv(2) straight into
 * guest memory, whatever the buffers' boundaries.
 *
 * Runtime: engine (device thread) and control plane.
 */
export class ScatterList {
  /** Offset in the range where each buffer starts. */
  private readonly starts: number[] = [];
  readonly length: number;

  constructor(readonly views: readonly Uint8Array[]) {
    let at = 0;
    for (const v of views) {
      this.starts.push(at);
      at += v.length;
    }
    this.length = at;
  }

  /** The buffers under bytes [pos, pos + n) of the range, cut to fit. */
  slice(pos: number, n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const end = pos + n;
    for (let i = this.first(pos); i < this.views.length && this.starts[i]! < end; i++) {
      const v = this.views[i]!;
      const from = Math.max(0, pos - this.starts[i]!);
      const to = Math.min(v.length, end - this.starts[i]!);
      if (to > from) out.push(from === 0 && to === v.length ? v : v.subarray(from, to));
    }
    return out;
  }

  fillZero(pos: number, n: number): void {
    for (const v of this.slice(pos, n)) v.fill(0);
  }

  /** Copies `data` into the range from `pos` on. */
  set(data: Uint8Array, pos: number): void {
    let at = 0;
    for (const v of this.slice(pos, data.length)) {
      v.set(data.subarray(at, at + v.length));
      at += v.length;
    }
  }

  /** Index of the buffer holding byte `pos` (binary search: a chain may have many buffers). */
  private first(pos: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
