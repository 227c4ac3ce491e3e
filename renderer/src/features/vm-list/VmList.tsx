/** The VM list on the left: OS icon, name, state; arrow keys move, Enter opens settings, Delete asks. */
import type { KeyboardEvent } from 'react';
import type { VmState } from '../../../../preload/contract';
import { nameOf, useLibrary } from '../../stores/library';
import { OsIcon } from './OsIcon';

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

export function VmList({
  onOpenSettings,
  onDelete,
}: {
  onOpenSettings: () => void;
  onDelete: () => void;
}) {
  const { vms, selectedId, select } = useLibrary();
  const onKey = (e: KeyboardEvent) => {
    const i = vms.findIndex((v) => v.id === selectedId);
    if (e.key === 'ArrowDown' && i < vms.length - 1) select(vms[i + 1]!.id);
    else if (e.key === 'ArrowUp' && i > 0) select(vms[i - 1]!.id);
    else if (e.key === 'Enter') onOpenSettings();
    else if (e.key === 'Delete') onDelete();
    else return;
    e.preventDefault();
  };
  return (
    <ul
      className="vm-list"
      role="listbox"
      aria-label="Virtual machines"
      tabIndex={0}
      onKeyDown={onKey}
      data-testid="vm-list"
    >
      {vms.map((vm) => (
        <li
          key={vm.id}
          role="option"
          aria-selected={vm.id === selectedId}
          className={`vm-item${vm.id === selectedId ? ' selected' : ''}${vm.accessible ? '' : ' inaccessible'}`}
          onClick={() => select(vm.id)}
          onDoubleClick={onOpenSettings}
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
  );
}
