/**
 * The console's mouse integration arithmetic (renderer/src/features/console/display-client.ts):
 * a pointer over the canvas becomes the tablet's 0..0x7fff coordinates whatever the canvas's
 * size and place on the page, clamped at the edges, and a wheel turn becomes REL_WHEEL clicks
 * (positive away from the user, as evdev counts them).
 */
import { describe, expect, it } from 'vitest';
import {
  POINTER_MAX,
  tabletPosition,
  wheelClicks,
} from '../../renderer/src/features/console/pointer';

describe('tabletPosition', () => {
  const box = { left: 100, top: 50, width: 801, height: 601 };
  it('maps the canvas corners and centre onto the tablet axes', () => {
    expect(tabletPosition(100, 50, box)).toEqual({ x: 0, y: 0 });
    expect(tabletPosition(900, 650, box)).toEqual({ x: POINTER_MAX, y: POINTER_MAX });
    expect(tabletPosition(500, 350, box)).toEqual({
      x: Math.round(POINTER_MAX / 2),
      y: Math.round(POINTER_MAX / 2),
    });
  });
  it('clamps pointers outside the canvas and survives an empty box', () => {
    expect(tabletPosition(0, 10_000, box)).toEqual({ x: 0, y: POINTER_MAX });
    expect(tabletPosition(5, 5, { left: 0, top: 0, width: 0, height: 0 })).toEqual({ x: 0, y: 0 });
  });
});

describe('wheelClicks', () => {
  it('is one click per event, up positive', () => {
    expect(wheelClicks(-120)).toBe(1);
    expect(wheelClicks(3)).toBe(-1);
    expect(wheelClicks(0)).toBe(0);
  });
});
