/**
 * The console's mouse integration arithmetic, kept free of the DOM so unit tests run it: where
 * the host pointer is on the guest's screen in the tablet's units, and wheel turns as clicks.
 */

/** The tablet's axes run 0..0x7fff (main/engine/devices/virtio-input). */
export const POINTER_MAX = 0x7fff;

/**
 * Where a pointer at (clientX, clientY) is on the guest's screen, in the tablet's units
 * (0..{@link POINTER_MAX} per axis), given the canvas's box on the page. The canvas keeps the
 * screen's aspect (it is sized by width/height auto), so its box is the picture.
 */
export function tabletPosition(
  clientX: number,
  clientY: number,
  box: { left: number; top: number; width: number; height: number },
): { x: number; y: number } {
  const along = (offset: number, length: number): number =>
    length <= 1
      ? 0
      : Math.max(0, Math.min(POINTER_MAX, Math.round((offset / (length - 1)) * POINTER_MAX)));
  return { x: along(clientX - box.left, box.width), y: along(clientY - box.top, box.height) };
}

/** A wheel event as tablet wheel clicks: REL_WHEEL is positive away from the user (up). */
export function wheelClicks(deltaY: number): number {
  return deltaY === 0 ? 0 : deltaY < 0 ? 1 : -1;
}
