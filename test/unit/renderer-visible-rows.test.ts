/** The VM list's windowing (renderer/src/features/vm-list/visible-rows.ts). */
import { describe, expect, it } from 'vitest';
import { scrollToReveal, visibleRows } from '../../renderer/src/features/vm-list/visible-rows.js';

describe('visibleRows', () => {
  it('renders a screenful plus the overscan, not the whole library', () => {
    // 1,000 rows of 52 px in an 800 px viewport at the top: 16 visible + 8 overscan below.
    expect(visibleRows(0, 800, 52, 1000, 8)).toEqual({ first: 0, end: 24 });
    // Scrolled to row 500: 8 rows of overscan on each side.
    expect(visibleRows(500 * 52, 800, 52, 1000, 8)).toEqual({ first: 492, end: 524 });
  });

  it('stays inside the list at its end and for small lists', () => {
    expect(visibleRows(1000 * 52, 800, 52, 1000, 8)).toEqual({ first: 992, end: 1000 });
    expect(visibleRows(0, 800, 52, 3, 8)).toEqual({ first: 0, end: 3 });
    expect(visibleRows(0, 800, 52, 0, 8)).toEqual({ first: 0, end: 0 });
  });

  it('survives nonsense measurements (negative, NaN, zero-height rows)', () => {
    expect(visibleRows(-100, 800, 52, 10, 0)).toEqual({ first: 0, end: 10 });
    expect(visibleRows(Number.NaN, Number.NaN, 52, 10, 0)).toEqual({ first: 0, end: 0 });
    expect(visibleRows(0, 800, 0, 10)).toEqual({ first: 0, end: 0 });
  });
});

describe('scrollToReveal', () => {
  it('leaves the scroll alone when the row is in view', () => {
    expect(scrollToReveal(3, 0, 400, 52, 6)).toBe(0);
  });
  it('scrolls down just enough to show a row below, including the bottom padding', () => {
    // Row 10 spans 526..578 (6 px padding + 10 rows of 52); viewport 400 => 578 + 6 - 400.
    expect(scrollToReveal(10, 0, 400, 52, 6)).toBe(184);
  });
  it('scrolls up to a row above, back to 0 for the first row', () => {
    expect(scrollToReveal(2, 500, 400, 52, 6)).toBe(104);
    expect(scrollToReveal(0, 500, 400, 52, 6)).toBe(0);
  });
});
