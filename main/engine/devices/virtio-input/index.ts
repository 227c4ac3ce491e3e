/**
 * virtio-input as a tablet, the device side (Virtual I/O Device (VIRTIO) Version 1.2, §5.8
 * "Input Device"): an absolute pointer, so the guest's pointer follows the host's without the
 * console capturing the mouse (what QEMU's virtio-tablet-pci and VirtualBox's USB tablet give).
 * Linux drives it with virtio_input (CONFIG_VIRTIO_INPUT) and sees an evdev device with
 * ABS_X/ABS_Y, three buttons and a wheel, which X, Wayland and libinput use as they find it.
 *
 * - Configuration (§5.8.4): the driver writes `select` and `subsel`, then reads `size` and the
 *   union at offset 8: the name (ID_NAME), bus/vendor/product/version (ID_DEVIDS), the event
 *   type bitmaps (EV_BITS with subsel = the event type, linux/input-event-codes.h) and each
 *   absolute axis's range (ABS_INFO with subsel = the axis). Anything else has size 0.
 * - eventq (queue 0): the driver posts device-writable buffers of 8 bytes, `struct
 *   virtio_input_event { le16 type; le16 code; le32 value; }` (§5.8.6); the device fills one per
 *   event, ending each report with EV_SYN/SYN_REPORT as evdev does.
 * - statusq (queue 1): the driver sends events back (LEDs on a keyboard); a tablet has none to
 *   act on, so each buffer is returned unused.
 *
 * Events wait in a bounded queue while the driver has posted no buffers. The values a tablet
 * sends are absolute (positions, buttons 0/1), so when the queue overflows (a guest that stopped
 * reading) it is replaced by one report taking the guest from what it last got to the pointer's
 * state now: nothing grows without bound and no button is left stuck.
 *
 * Everything from the guest is hostile: a broken virtqueue puts the device in
 * DEVICE_NEEDS_RESET (§2.1.2) through `onNeedsReset`; an event buffer shorter than 8 bytes is
 * returned with nothing written.
 *
 * Runtime: engine (device thread).
 */
import type { GuestMemory } from '../../memory.js';
import { Virtqueue, VirtqueueError, type VirtqueueLayout } from '../virtio/queue.js';

export const VIRTIO_ID_INPUT = 18;
const VIRTIO_F_VERSION_1 = 32;
const VIRTIO_F_INDIRECT_DESC = 28;

export const EVENTQ = 0;
export const STATUSQ = 1;

// struct virtio_input_config select values (§5.8.4).
export const VIRTIO_INPUT_CFG_UNSET = 0x00;
export const VIRTIO_INPUT_CFG_ID_NAME = 0x01;
export const VIRTIO_INPUT_CFG_ID_SERIAL = 0x02;
export const VIRTIO_INPUT_CFG_ID_DEVIDS = 0x03;
export const VIRTIO_INPUT_CFG_PROP_BITS = 0x10;
export const VIRTIO_INPUT_CFG_EV_BITS = 0x11;
export const VIRTIO_INPUT_CFG_ABS_INFO = 0x12;
/** The union starts after select, subsel, size and five reserved bytes; it is 128 bytes. */
const CONFIG_UNION_AT = 8;
const CONFIG_BYTES = CONFIG_UNION_AT + 128;

// Event types and codes (linux/input-event-codes.h), which virtio-input uses unchanged.
export const EV_SYN = 0x00;
export const EV_KEY = 0x01;
export const EV_REL = 0x02;
export const EV_ABS = 0x03;
export const SYN_REPORT = 0;
export const BTN_LEFT = 0x110;
export const BTN_RIGHT = 0x111;
export const BTN_MIDDLE = 0x112;
export const REL_WHEEL = 0x08;
export const ABS_X = 0x00;
export const ABS_Y = 0x01;
/** BUS_VIRTUAL (linux/input.h). */
const BUS_VIRTUAL = 0x06;

/** The axes span 0..ABS_MAX, the resolution QEMU's tablet also uses (0x7fff). */
export const TABLET_ABS_MAX = 0x7fff;
const EVENT_BYTES = 8;
/** Events waiting for eventq buffers before the queue collapses into one report. */
export const MAX_PENDING_EVENTS = 512;

/** Console buttons in PS/2 order (bit 0 left, 1 right, 2 middle) and their evdev codes. */
const BUTTONS: readonly (readonly [bit: number, code: number])[] = [
  [1, BTN_LEFT],
  [2, BTN_RIGHT],
  [4, BTN_MIDDLE],
];

export interface InputEvent {
  type: number;
  code: number;
  value: number;
}

export interface PointerState {
  x: number;
  y: number;
  buttons: number;
}

export interface VirtioTabletOptions {
  memory: GuestMemory;
  name?: string;
  /** The device used a queue's buffers. */
  onInterrupt(queue: number): void;
  /** The driver broke the virtqueue rules (§2.1.2). */
  onNeedsReset(reason: string): void;
}

export class VirtioTablet {
  readonly deviceId = VIRTIO_ID_INPUT;
  readonly queueCount = 2;
  readonly features = (1n << BigInt(VIRTIO_F_VERSION_1)) | (1n << BigInt(VIRTIO_F_INDIRECT_DESC));
  private readonly name: string;
  private select = VIRTIO_INPUT_CFG_UNSET;
  private subsel = 0;
  private queues: (Virtqueue | undefined)[] = [];
  private broken = false;
  private pending: InputEvent[] = [];
  /** The pointer as the console last set it. */
  private current: PointerState = { x: 0, y: 0, buttons: 0 };
  /** The pointer as the events queued so far leave it. */
  private queuedState: PointerState = { x: 0, y: 0, buttons: 0 };
  /** The pointer as the events written to the guest leave it. */
  private guestState: PointerState = { x: 0, y: 0, buttons: 0 };
  /** Events written into the guest's buffers since the device was created. */
  eventsDelivered = 0;

  constructor(private readonly o: VirtioTabletOptions) {
    this.name = o.name ?? 'Vireo Virtio Tablet';
  }

  /** Whether a driver runs the device and has posted buffers: the guest takes absolute events. */
  get active(): boolean {
    return this.queues[EVENTQ] !== undefined && !this.broken;
  }

  // --- configuration (§5.8.4) ---

  /** The union's bytes for the current select/subsel; its length is `size`. */
  private configUnion(): Uint8Array {
    switch (this.select) {
      case VIRTIO_INPUT_CFG_ID_NAME:
        return this.subsel === 0 ? new TextEncoder().encode(this.name).subarray(0, 128) : none();
      case VIRTIO_INPUT_CFG_ID_DEVIDS: {
        if (this.subsel !== 0) return none();
        const ids = new Uint8Array(8);
        const v = new DataView(ids.buffer);
        v.setUint16(0, BUS_VIRTUAL, true);
        v.setUint16(2, 0x1af4, true); // the virtio PCI vendor, as a vendor id of our own
        v.setUint16(4, 0x0003, true); // product: tablet
        v.setUint16(6, 1, true);
        return ids;
      }
      case VIRTIO_INPUT_CFG_EV_BITS:
        switch (this.subsel) {
          case EV_KEY:
            return bitmap(BUTTONS.map(([, code]) => code));
          case EV_REL:
            return bitmap([REL_WHEEL]);
          case EV_ABS:
            return bitmap([ABS_X, ABS_Y]);
          default:
            return none();
        }
      case VIRTIO_INPUT_CFG_ABS_INFO: {
        if (this.subsel !== ABS_X && this.subsel !== ABS_Y) return none();
        // struct virtio_input_absinfo { le32 min, max, fuzz, flat, res }.
        const info = new Uint8Array(20);
        new DataView(info.buffer).setUint32(4, TABLET_ABS_MAX, true);
        return info;
      }
      default:
        // ID_SERIAL, PROP_BITS and UNSET: nothing to say (size 0).
        return none();
    }
  }

  readConfig(offset: number, data: Uint8Array): void {
    const c = new Uint8Array(CONFIG_BYTES);
    const union = this.configUnion();
    c[0] = this.select;
    c[1] = this.subsel;
    c[2] = union.length;
    c.set(union, CONFIG_UNION_AT);
    for (let i = 0; i < data.length; i++) data[i] = c[offset + i] ?? 0;
  }

  /** Only `select` and `subsel` are the driver's to write (§5.8.4). */
  writeConfig(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      if (offset + i === 0) this.select = data[i]!;
      else if (offset + i === 1) this.subsel = data[i]!;
    }
  }

  // --- queues ---

  activate(layouts: readonly (VirtqueueLayout | null)[], indirect = true): void {
    this.broken = false;
    try {
      this.queues = layouts
        .slice(0, this.queueCount)
        .map((l) => (l ? new Virtqueue(this.o.memory, l, indirect) : undefined));
    } catch (e) {
      this.fail(e);
      return;
    }
    // A fresh evdev device starts at (0, 0) with no button down (linux/input.h absinfo value):
    // if the host pointer is elsewhere, the first report says where.
    this.guestState = { x: 0, y: 0, buttons: 0 };
    this.queuedState = { ...this.guestState };
    this.pending = [];
    this.enqueueReport(this.current, 0);
    this.flush();
  }

  reset(): void {
    this.queues = [];
    this.broken = false;
    this.pending = [];
    this.select = VIRTIO_INPUT_CFG_UNSET;
    this.subsel = 0;
  }

  notify(queue: number): void {
    if (this.broken) return;
    if (queue === EVENTQ) this.flush();
    else if (queue === STATUSQ) this.drainStatus();
  }

  /**
   * The host pointer at (x, y) in 0..{@link TABLET_ABS_MAX} with buttons in PS/2 order and
   * wheel clicks (positive: away from the user). Returns false when no driver takes events.
   */
  pointerEvent(x: number, y: number, buttons: number, wheel = 0): boolean {
    const clamp = (v: number) => Math.max(0, Math.min(TABLET_ABS_MAX, Math.round(v)));
    this.current = { x: clamp(x), y: clamp(y), buttons: buttons & 7 };
    if (!this.active) return false;
    this.enqueueReport(this.current, Math.max(-127, Math.min(127, Math.trunc(wheel))));
    if (this.pending.length > MAX_PENDING_EVENTS) {
      // The guest stopped taking events: one report from what it has to what is true now.
      this.pending = [];
      this.queuedState = { ...this.guestState };
      this.enqueueReport(this.current, 0);
    }
    this.flush();
    return true;
  }

  /** Queues the events that take the queued state to `to`, then SYN_REPORT. */
  private enqueueReport(to: PointerState, wheel: number): void {
    const from = this.queuedState;
    const events: InputEvent[] = [];
    if (to.x !== from.x) events.push({ type: EV_ABS, code: ABS_X, value: to.x });
    if (to.y !== from.y) events.push({ type: EV_ABS, code: ABS_Y, value: to.y });
    for (const [bit, code] of BUTTONS)
      if ((to.buttons & bit) !== (from.buttons & bit))
        events.push({ type: EV_KEY, code, value: to.buttons & bit ? 1 : 0 });
    if (wheel !== 0) events.push({ type: EV_REL, code: REL_WHEEL, value: wheel });
    if (events.length === 0) return;
    events.push({ type: EV_SYN, code: SYN_REPORT, value: 0 });
    this.pending.push(...events);
    this.queuedState = { ...to };
  }

  /** Writes waiting events into the buffers the driver posted on eventq. */
  private flush(): void {
    const queue = this.queues[EVENTQ];
    if (!queue || this.broken || this.pending.length === 0) return;
    let used = false;
    try {
      while (this.pending.length > 0) {
        const chain = queue.pop();
        if (!chain) break;
        const buffer = chain.writable[0];
        if (!buffer || chain.writableBytes < EVENT_BYTES || buffer.length < EVENT_BYTES) {
          // Not a buffer an event fits in: returned empty, the event waits for the next.
          queue.push(chain.head, 0);
          used = true;
          continue;
        }
        const event = this.pending.shift()!;
        const bytes = new Uint8Array(EVENT_BYTES);
        const v = new DataView(bytes.buffer);
        v.setUint16(0, event.type, true);
        v.setUint16(2, event.code, true);
        v.setInt32(4, event.value, true);
        this.o.memory.write(buffer.address, bytes);
        queue.push(chain.head, EVENT_BYTES);
        used = true;
        this.eventsDelivered++;
        this.applyToGuest(event);
      }
    } catch (e) {
      this.fail(e);
      return;
    }
    if (used && queue.wantsInterrupt()) this.o.onInterrupt(EVENTQ);
  }

  private applyToGuest(event: InputEvent): void {
    const g = this.guestState;
    if (event.type === EV_ABS && event.code === ABS_X) g.x = event.value;
    else if (event.type === EV_ABS && event.code === ABS_Y) g.y = event.value;
    else if (event.type === EV_KEY) {
      const bit = BUTTONS.find(([, code]) => code === event.code)?.[0] ?? 0;
      g.buttons = event.value ? g.buttons | bit : g.buttons & ~bit;
    }
  }

  /** statusq: the guest's LED and similar events, which a tablet has no use for. */
  private drainStatus(): void {
    const queue = this.queues[STATUSQ];
    if (!queue) return;
    let used = false;
    try {
      for (let chain = queue.pop(); chain; chain = queue.pop()) {
        queue.push(chain.head, 0);
        used = true;
      }
    } catch (e) {
      this.fail(e);
      return;
    }
    if (used && queue.wantsInterrupt()) this.o.onInterrupt(STATUSQ);
  }

  private fail(e: unknown): void {
    if (!(e instanceof VirtqueueError)) throw e;
    this.broken = true;
    this.pending = [];
    this.o.onNeedsReset(e.message);
  }
}

function none(): Uint8Array {
  return new Uint8Array(0);
}

/** An evdev bitmap (bit n of byte n / 8) with `bits` set, as long as its highest byte. */
function bitmap(bits: readonly number[]): Uint8Array {
  const out = new Uint8Array(Math.floor(Math.max(...bits) / 8) + 1);
  for (const b of bits) out[b >> 3]! |= 1 << (b & 7);
  return out;
}
