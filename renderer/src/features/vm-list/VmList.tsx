/**
 * The VM list on the left: OS icon, name, state; arrow keys move, Enter opens settings, Delete
 * asks. Virtualised (fixed row height, only the rows in view are mounted) so a library of
 * 1,000 VMs renders as fast as one of ten: see bench/browser-render-1000.mjs.
 */
import { useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { VmState } from '../../../../preload/contract';
import { nameOf, useLibrary } from '../../stores/library';
import { OsIcon } from './OsIcon';
import { scrollToReveal, visibleRows } from './visible-rows';

export const STATE_LABELS: Record<VmState, string> = {
  'powered-off': 'Powered Off',
  starting: 'Starting',
  running: 'Running',
  paused: 'Paused',
  saved: 'Saved',
  stopping: 'Stopping',
  aborted: 'Aborted',
  inaccessible: 'Inaccessible',
};

/** Row pitch in px; must match `.vm-item` height + gap in styles.css. */
const ROW_HEIGHT = 52;
/** Padding inside the scroller, matching `.vm-list` padding. */
const PAD = 6;

export function VmList({
  onOpenSettings,
  onDelete,
}: {
  onOpenSettings: () => void;
  onDelete: () => void;
}) {
  const { vms, selectedId, select } = useLibrary();
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });

  // Track the viewport size: the window can be resized and the sidebar with it.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // Keep the selected row in view when the keyboard (or a new VM) moves the selection.
  const selectedIndex = vms.findIndex((v) => v.id === selectedId);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || selectedIndex < 0) return;
    const top = scrollToReveal(selectedIndex, el.scrollTop, el.clientHeight, ROW_HEIGHT, PAD);
    if (top !== el.scrollTop) el.scrollTop = top;
  }, [selectedIndex]);

  const onKey = (e: KeyboardEvent) => {
    const i = selectedIndex;
    const page = Math.max(1, Math.floor(view.height / ROW_HEIGHT) - 1);
    const go = (j: number) => {
      const vm = vms[Math.max(0, Math.min(vms.length - 1, j))];
      if (vm) select(vm.id);
    };
    if (e.key === 'ArrowDown') go(i + 1);
    else if (e.key === 'ArrowUp') go(i < 0 ? 0 : i - 1);
    else if (e.key === 'PageDown') go(i + page);
    else if (e.key === 'PageUp') go(i - page);
    else if (e.key === 'Home') go(0);
    else if (e.key === 'End') go(vms.length - 1);
    else if (e.key === 'Enter') onOpenSettings();
    else if (e.key === 'Delete') onDelete();
    else return;
    e.preventDefault();
  };

  const { first, end } = visibleRows(
    Math.max(0, view.top - PAD),
    view.height,
    ROW_HEIGHT,
    vms.length,
  );
  const rows = vms.slice(first, end);

  return (
    <div
      className="vm-list-scroller"
      ref={scroller}
      onScroll={(e) =>
        setView({ top: e.currentTarget.scrollTop, height: e.currentTarget.clientHeight })
      }
    >
      <ul
        className="vm-list"
        role="listbox"
        aria-label="Virtual machines"
        aria-activedescendant={selectedId ? `vm-option-${selectedId}` : undefined}
        tabIndex={0}
        onKeyDown={onKey}
        data-testid="vm-list"
        data-count={vms.length}
        style={{ height: vms.length * ROW_HEIGHT + 2 * PAD }}
      >
        {rows.map((vm, k) => (
          <li
            key={vm.id}
            id={`vm-option-${vm.id}`}
            role="option"
            aria-selected={vm.id === selectedId}
            aria-posinset={first + k + 1}
            aria-setsize={vms.length}
            className={`vm-item${vm.id === selectedId ? ' selected' : ''}${vm.accessible ? '' : ' inaccessible'}`}
            style={{ top: PAD + (first + k) * ROW_HEIGHT }}
            onClick={() => select(vm.id)}
            onDoubleClick={onOpenSettings}
            data-vm-id={vm.id}
            data-testid={`vm-item-${nameOf(vm)}`}
          >
            <OsIcon family={vm.accessible ? vm.config.os.family : 'other'} />
            <div className="vm-item-text">
              <div className="vm-name">{nameOf(vm)}</div>
              <div className="vm-state">
                <span className={`state-dot state-${vm.state}`} />
                {STATE_LABELS[vm.state]}
              </div>
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}
