/**
 * Which rows of a fixed-height list are worth rendering. The VM list only mounts the rows in view
 * (plus a margin) so a library of thousands of VMs costs the same as a screenful.
 */
export interface RowWindow {
  /** First row to render (inclusive). */
  first: number;
  /** Row after the last one to render (exclusive). */
  end: number;
}

export function visibleRows(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 8,
): RowWindow {
  if (count <= 0 || rowHeight <= 0) return { first: 0, end: 0 };
  const top = Math.max(0, Number.isFinite(scrollTop) ? scrollTop : 0);
  const height = Math.max(0, Number.isFinite(viewportHeight) ? viewportHeight : 0);
  const first = Math.min(count, Math.max(0, Math.floor(top / rowHeight) - overscan));
  const end = Math.min(count, Math.ceil((top + height) / rowHeight) + overscan);
  return { first, end: Math.max(first, end) };
}

/**
 * The scrollTop that brings row `index` fully into view, or the current one when it already is
 * (arrow keys must keep the selection visible without jumping the list around). `pad` is the
 * space above the first row and below the last one.
 */
export function scrollToReveal(
  index: number,
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  pad = 0,
): number {
  const rowTop = pad + index * rowHeight;
  const rowBottom = rowTop + rowHeight;
  if (rowTop < scrollTop) return Math.max(0, rowTop - pad);
  if (rowBottom > scrollTop + viewportHeight) return Math.max(0, rowBottom + pad - viewportHeight);
  return scrollTop;
}
