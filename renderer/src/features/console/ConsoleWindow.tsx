/**
 * The console window of one VM (browser mode: its own tab, `#console=<id>`): the guest's screen
 * on a canvas, the keyboard and mouse going to the guest while captured, and a toolbar like
 * VirtualBox's VM window (pause, ACPI shutdown, power off, screenshot, optical drive, keys the
 * host would otherwise take: Ctrl+Alt+Del, Ctrl+Alt+F1..F12, Print Screen).
 *
 * Capture: a click on the screen captures the keyboard (and the mouse through pointer lock, for
 * relative PS/2 motion); the host key, Right Ctrl as in VirtualBox, releases both.
 * Mouse integration: while the guest drives the tablet (the screen updates say so), the pointer
 * over the screen goes to the guest as absolute positions without capture or pointer lock, as
 * VirtualBox does with a USB tablet; a click still captures the keyboard.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { VmSummary } from '../../../../preload/contract';
import { bridge, call } from '../../lib/bridge';
import { FilePicker } from '../file-picker/FilePicker';
import { STATE_LABELS } from '../vm-list/VmList';
import {
  connectDisplay,
  ps2Buttons,
  type DisplayConnection,
  type DisplayStats,
} from './display-client';
import { tabletPosition, wheelClicks } from './pointer';
import { SPECIAL_KEYS } from './special-keys';
import { dragHasFiles, droppedIso, isoPathFor } from '../drop/iso-drop';

/** VirtualBox's default host key. */
export const HOST_KEY = 'ControlRight';

type Scale = 'fit' | '1:1';

declare global {
  interface Window {
    /** Read by the end-to-end tests and the frame benchmark. */
    __vireoConsole?: DisplayStats;
  }
}

export function ConsoleWindow({ vmId }: { vmId: string }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const connection = useRef<DisplayConnection | null>(null);
  const [vm, setVm] = useState<VmSummary | null>(null);
  const [status, setStatus] = useState('Connecting…');
  const [error, setError] = useState<string | null>(null);
  const [size, setSize] = useState<{ width: number; height: number } | null>(null);
  const [captured, setCaptured] = useState(false);
  /** The guest takes absolute pointer events: mouse integration, no pointer lock. */
  const [absolute, setAbsolute] = useState(false);
  const [scale, setScale] = useState<Scale>('fit');
  const [picking, setPicking] = useState(false);
  const [generation, setGeneration] = useState(0);
  const pressed = useRef(new Set<string>());

  const name = vm?.accessible ? vm.config.name : (vm?.name ?? vmId);
  useEffect(() => {
    document.title = `${name} — Vireo console`;
  }, [name]);

  // The VM's summary (state, ISO), live.
  useEffect(() => {
    let alive = true;
    call('vm.get', { id: vmId })
      .then((v) => alive && setVm(v))
      .catch((e: Error) => alive && setError(e.message));
    const off = bridge.on('vm.changed', ({ vm: v }) => {
      if (v.id === vmId) setVm(v);
    });
    return () => {
      alive = false;
      off();
    };
  }, [vmId]);

  const running = vm?.state === 'running' || vm?.state === 'paused';
  // (Re)connect the screen whenever the VM is (again) running.
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !running) return;
    setError(null);
    const c = connectDisplay(vmId, canvas, {
      onOpen: () => setStatus('Connected'),
      onError: (message) => setError(message),
      onClosed: (reason) => setStatus(reason),
      onResize: (width, height) => setSize({ width, height }),
      onPaint: (stats) => {
        window.__vireoConsole = { ...stats };
        setAbsolute(stats.absolutePointer);
      },
    });
    connection.current = c;
    return () => {
      c.close();
      connection.current = null;
    };
  }, [vmId, running, generation]);

  const release = useCallback(() => {
    // Keys still held in the guest are released, so nothing sticks down after capture ends.
    for (const code of pressed.current) connection.current?.key(code, false);
    pressed.current.clear();
    setCaptured(false);
    if (document.pointerLockElement) document.exitPointerLock();
  }, []);

  const onKey = (e: React.KeyboardEvent<HTMLCanvasElement>, down: boolean): void => {
    if (!captured) return;
    e.preventDefault();
    e.stopPropagation();
    if (e.code === HOST_KEY) {
      if (!down) release();
      return;
    }
    if (!e.code) return;
    // The browser's autorepeat goes on too: to the guest's keyboard it means "still held", and
    // it repeats the key at the rate the guest chose (typematic) while such words keep coming.
    if (down) pressed.current.add(e.code);
    else pressed.current.delete(e.code);
    connection.current?.key(e.code, down);
  };

  const capture = (): void => {
    setCaptured(true);
    canvasRef.current?.focus();
  };

  // The guest started taking absolute events while the mouse was locked: give the pointer back.
  useEffect(() => {
    if (absolute && document.pointerLockElement === canvasRef.current) document.exitPointerLock();
  }, [absolute]);

  const sendPointer = (e: React.MouseEvent<HTMLCanvasElement>, wheel = 0): void => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const { x, y } = tabletPosition(e.clientX, e.clientY, canvas.getBoundingClientRect());
    connection.current?.pointer(x, y, ps2Buttons(e.buttons), wheel);
  };

  const onMouseDown = (e: React.MouseEvent<HTMLCanvasElement>): void => {
    if (absolute) {
      if (!captured) capture();
      sendPointer(e);
      return;
    }
    if (!captured) {
      capture();
      // Pointer lock where the browser allows it (headless Chromium may refuse; keys still work).
      canvasRef.current?.requestPointerLock?.()?.catch?.(() => {});
      return;
    }
    connection.current?.mouse(0, 0, ps2Buttons(e.buttons));
  };
  const onMouseMove = (e: React.MouseEvent<HTMLCanvasElement>): void => {
    if (absolute) return sendPointer(e);
    if (!captured || document.pointerLockElement !== canvasRef.current) return;
    connection.current?.mouse(e.movementX, e.movementY, ps2Buttons(e.buttons));
  };
  const onMouseUp = (e: React.MouseEvent<HTMLCanvasElement>): void => {
    if (absolute) return sendPointer(e);
    if (captured) connection.current?.mouse(0, 0, ps2Buttons(e.buttons));
  };

  const sendChord = (keys: readonly string[]): void => {
    const codes = keys;
    for (const c of codes) connection.current?.key(c, true);
    for (const c of [...codes].reverse()) connection.current?.key(c, false);
    canvasRef.current?.focus();
  };

  const act = (
    name: 'vm.pause' | 'vm.resume' | 'vm.shutdown' | 'vm.powerOff' | 'vm.reset',
  ): void => {
    call(name, { id: vmId }).catch((e: Error) => setError(e.message));
  };

  // Reset loses the guest's unsaved work, so it takes a second click (VirtualBox asks too).
  const [confirmingReset, setConfirmingReset] = useState(false);
  useEffect(() => {
    if (!confirmingReset) return;
    const timer = setTimeout(() => setConfirmingReset(false), 5000);
    return () => clearTimeout(timer);
  }, [confirmingReset]);
  const reset = (): void => {
    if (!confirmingReset) return setConfirmingReset(true);
    setConfirmingReset(false);
    act('vm.reset');
  };

  const screenshot = (): void => {
    canvasRef.current?.toBlob((blob) => {
      if (!blob) return;
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      a.download = `${name}-${stamp}.png`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    }, 'image/png');
  };

  const setIso = (iso: string | null): void => {
    setPicking(false);
    call('vm.update', { id: vmId, changes: { iso } }).catch((e: Error) => setError(e.message));
  };

  const iso = vm?.accessible ? vm.config.optical.iso : null;
  const dpr = window.devicePixelRatio || 1;
  const canvasStyle: React.CSSProperties =
    scale === '1:1' && size
      ? { width: size.width / dpr, height: size.height / dpr }
      : { maxWidth: '100%', maxHeight: '100%', width: 'auto', height: 'auto' };

  return (
    <div
      className="console-window"
      data-testid="console-window"
      onDragOver={(e) => {
        if (!dragHasFiles(e)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
      }}
      onDrop={(e) => {
        // An ISO dropped on the console goes into this VM's optical drive, live.
        if (!dragHasFiles(e)) return;
        e.preventDefault();
        try {
          const file = droppedIso(e.dataTransfer.files);
          setStatus(`Copying ${file.name}…`);
          isoPathFor(file, (p) =>
            setStatus(`Copying ${p.name}: ${Math.floor((100 * p.sent) / (p.total || 1))} %`),
          )
            .then((path) => {
              setStatus('Connected');
              setIso(path);
            })
            .catch((err: Error) => setError(err.message));
        } catch (err) {
          setError((err as Error).message);
        }
      }}
    >
      <div className="console-toolbar" role="toolbar" aria-label="VM">
        <strong className="console-title">{name}</strong>
        <span className={`state-dot state-${vm?.state ?? 'powered-off'}`} />
        <span data-testid="console-state">{vm ? STATE_LABELS[vm.state] : ''}</span>
        {vm?.state === 'paused' ? (
          <button onClick={() => act('vm.resume')} data-testid="console-resume">
            Resume
          </button>
        ) : (
          <button
            onClick={() => act('vm.pause')}
            disabled={vm?.state !== 'running'}
            data-testid="console-pause"
          >
            Pause
          </button>
        )}
        <button
          onClick={() => act('vm.shutdown')}
          disabled={vm?.state !== 'running'}
          data-testid="console-shutdown"
          title="ACPI shutdown: the guest powers off in order"
        >
          Shut down
        </button>
        <button
          onClick={reset}
          disabled={vm?.state !== 'running'}
          data-testid="console-reset"
          title="Restart the machine at once, as its reset button would"
        >
          {confirmingReset ? 'Confirm reset' : 'Reset'}
        </button>
        <button
          onClick={() => act('vm.powerOff')}
          disabled={!running}
          data-testid="console-poweroff"
          title="Pull the plug"
        >
          Power off
        </button>
        <select
          aria-label="Send keys"
          value=""
          disabled={!running}
          data-testid="console-sendkeys"
          onChange={(e) => {
            const entry = SPECIAL_KEYS.find((k) => k.label === e.target.value);
            if (entry) sendChord(entry.keys);
          }}
        >
          <option value="">Send keys…</option>
          {SPECIAL_KEYS.map((k) => (
            <option key={k.label} value={k.label}>
              {k.label}
            </option>
          ))}
        </select>
        <button onClick={screenshot} disabled={!size} data-testid="console-screenshot">
          Screenshot
        </button>
        <span className="console-optical" title={iso ?? 'No disc'}>
          Optical: {iso ? iso.split('/').pop() : 'empty'}
        </span>
        <button onClick={() => setPicking(true)} data-testid="console-choose-iso">
          Choose ISO…
        </button>
        <button onClick={() => setIso(null)} disabled={!iso} data-testid="console-eject">
          Eject
        </button>
        <select
          aria-label="Scale"
          value={scale}
          onChange={(e) => setScale(e.target.value as Scale)}
          data-testid="console-scale"
        >
          <option value="fit">Scale to window</option>
          <option value="1:1">1:1</option>
        </select>
        <button
          onClick={() => void canvasRef.current?.requestFullscreen?.()}
          disabled={!size}
          data-testid="console-fullscreen"
        >
          Fullscreen
        </button>
      </div>
      {error && (
        <div className="console-error" role="alert" data-testid="console-error">
          {error}{' '}
          {running && (
            <button onClick={() => setGeneration((g) => g + 1)} data-testid="console-reconnect">
              Reconnect
            </button>
          )}
        </div>
      )}
      <div className="console-screen">
        {!running && (
          <div className="console-off" data-testid="console-off">
            {vm ? `${name} is ${STATE_LABELS[vm.state].toLowerCase()}.` : 'Loading…'}
            {vm && !running && vm.state !== 'starting' && (
              <button
                onClick={() => {
                  call('vm.start', { id: vmId }).catch((e: Error) => setError(e.message));
                }}
                data-testid="console-start"
              >
                Start
              </button>
            )}
          </div>
        )}
        <canvas
          ref={canvasRef}
          tabIndex={0}
          data-testid="console-canvas"
          className={captured ? 'captured' : ''}
          style={{ ...canvasStyle, display: running ? undefined : 'none' }}
          onKeyDown={(e) => onKey(e, true)}
          onKeyUp={(e) => onKey(e, false)}
          onMouseDown={onMouseDown}
          onMouseUp={onMouseUp}
          onMouseMove={onMouseMove}
          onWheel={(e) => absolute && sendPointer(e, wheelClicks(e.deltaY))}
          onContextMenu={(e) => e.preventDefault()}
          onBlur={() => captured && release()}
        />
      </div>
      <div className="console-status" data-testid="console-status">
        {captured
          ? 'Keyboard captured: press Right Ctrl to release.'
          : running
            ? 'Click the screen to type into the VM.'
            : ''}
        {running && absolute && (
          <span data-testid="console-mouse-integration">
            Mouse integration: the pointer goes to the VM without capture.
          </span>
        )}
        <span className="console-status-right">
          {size ? `${size.width}×${size.height}` : ''} {status}
        </span>
      </div>
      {picking && (
        <FilePicker extensions={['iso']} onPick={setIso} onCancel={() => setPicking(false)} />
      )}
    </div>
  );
}
