/**
 * The Virtual Media Manager (VirtualBox's File > Tools > Virtual Media Manager): every disk
 * image and ISO the library knows (main/control/media.ts), with virtual size, size on disk,
 * format and the VMs that use it. Disks can be created, grown, attached to a powered-off VM,
 * detached, and deleted after a confirmation; ISOs stored in the media folder can be deleted.
 */
import { useCallback, useEffect, useState } from 'react';
import type { MediumInfo, VmSummary } from '../../../../preload/contract';
import { call } from '../../lib/bridge';
import { useLibrary } from '../../stores/library';

const MiB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${bytes} B`;
}

type Action =
  | { kind: 'create' }
  | { kind: 'resize'; medium: MediumInfo }
  | { kind: 'attach'; medium: MediumInfo }
  | { kind: 'delete'; medium: MediumInfo }
  | null;

export function MediaManager({ onClose }: { onClose: () => void }) {
  const vms = useLibrary((s) => s.vms);
  const [media, setMedia] = useState<MediumInfo[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [action, setAction] = useState<Action>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const reload = useCallback(async () => {
    try {
      setMedia(await call('media.list', {}));
    } catch (e) {
      setError((e as Error).message);
    }
  }, []);
  useEffect(() => {
    let alive = true;
    call('media.list', {})
      .then((m) => alive && setMedia(m))
      .catch((e: Error) => alive && setError(e.message));
    return () => {
      alive = false;
    };
  }, []);

  const run = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
      setAction(null);
      await reload();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const medium = media?.find((m) => m.path === selected) ?? null;
  const detach = (m: MediumInfo, vm: MediumInfo['usedBy'][number]) =>
    run(() => call('vm.update', { id: vm.id, changes: { detachDisk: { path: m.path } } }));

  return (
    <div className="modal-backdrop">
      <div
        className="modal media-manager"
        role="dialog"
        aria-label="Virtual Media Manager"
        data-testid="media-manager"
      >
        <h2>Virtual Media Manager</h2>
        <div className="media-tools">
          <button onClick={() => setAction({ kind: 'create' })} data-testid="media-create">
            Create disk…
          </button>
          <button
            disabled={!medium || medium.kind !== 'disk' || medium.error !== null}
            onClick={() => medium && setAction({ kind: 'resize', medium })}
            data-testid="media-resize"
          >
            Resize…
          </button>
          <button
            disabled={!medium || medium.kind !== 'disk' || medium.error !== null}
            onClick={() => medium && setAction({ kind: 'attach', medium })}
            data-testid="media-attach"
          >
            Attach to VM…
          </button>
          <button
            disabled={!medium || medium.usedBy.length > 0}
            title={medium && medium.usedBy.length > 0 ? 'Detach it from every VM first' : ''}
            onClick={() => medium && setAction({ kind: 'delete', medium })}
            data-testid="media-delete"
          >
            Delete…
          </button>
          <button onClick={() => void reload()} data-testid="media-refresh">
            Refresh
          </button>
        </div>
        {error && (
          <div className="field-error" role="alert" data-testid="media-error">
            {error}
          </div>
        )}
        <div className="media-table-wrap">
          <table className="media-table" data-testid="media-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Type</th>
                <th>Virtual size</th>
                <th>On disk</th>
                <th>Attached to</th>
              </tr>
            </thead>
            <tbody>
              {media === null && (
                <tr>
                  <td colSpan={5} className="muted">
                    Loading…
                  </td>
                </tr>
              )}
              {media?.length === 0 && (
                <tr>
                  <td colSpan={5} className="muted">
                    No disk images or ISOs yet: create a disk, or add an ISO to a VM.
                  </td>
                </tr>
              )}
              {media?.map((m) => (
                <tr
                  key={m.path}
                  className={m.path === selected ? 'selected' : ''}
                  onClick={() => setSelected(m.path)}
                  data-testid={`medium-${m.path.split('/').pop()}`}
                  title={m.error ?? m.path}
                >
                  <td>
                    {m.path.split('/').pop()}
                    {m.error && <span className="field-error"> — {m.error}</span>}
                  </td>
                  <td>{m.kind === 'disk' ? `Disk, ${m.format}` : 'ISO'}</td>
                  <td>{m.error ? '—' : formatBytes(m.virtualSizeBytes)}</td>
                  <td>{m.error ? '—' : formatBytes(m.sizeOnDiskBytes)}</td>
                  <td>
                    {m.usedBy.length === 0
                      ? 'not attached'
                      : m.usedBy.map((u) => (
                          <span key={u.id} className="media-user">
                            {u.name}
                            {u.running ? ' (running)' : ''}
                            {m.kind === 'disk' && !u.running && (
                              <button
                                className="link"
                                onClick={(e) => {
                                  e.stopPropagation();
                                  void detach(m, u);
                                }}
                                data-testid={`media-detach-${u.name}`}
                              >
                                detach
                              </button>
                            )}
                          </span>
                        ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {medium && <div className="muted media-path">{medium.path}</div>}
        {action?.kind === 'create' && (
          <CreateDisk
            busy={busy}
            onCancel={() => setAction(null)}
            onCreate={(r) => void run(() => call('media.createDisk', r))}
          />
        )}
        {action?.kind === 'resize' && (
          <ResizeDisk
            medium={action.medium}
            busy={busy}
            onCancel={() => setAction(null)}
            onResize={(sizeMiB) =>
              void run(() => call('media.resize', { path: action.medium.path, sizeMiB }))
            }
          />
        )}
        {action?.kind === 'attach' && (
          <AttachDisk
            medium={action.medium}
            vms={vms}
            busy={busy}
            onCancel={() => setAction(null)}
            onAttach={(id, bus) =>
              void run(() =>
                call('vm.update', {
                  id,
                  changes: { attachDisk: { path: action.medium.path, bus } },
                }),
              )
            }
          />
        )}
        {action?.kind === 'delete' && (
          <div className="media-form" data-testid="media-delete-confirm">
            <p>
              Delete <strong>{action.medium.path}</strong>? The file is removed from the disk; this
              cannot be undone.
            </p>
            <div className="modal-buttons">
              <button onClick={() => setAction(null)}>Cancel</button>
              <button
                className="danger"
                disabled={busy}
                onClick={() =>
                  void run(async () => {
                    await call('media.delete', { path: action.medium.path });
                    setSelected(null);
                  })
                }
                data-testid="media-delete-yes"
              >
                Delete
              </button>
            </div>
          </div>
        )}
        <div className="modal-buttons">
          <button onClick={onClose} data-testid="media-close">
            Close
          </button>
        </div>
      </div>
    </div>
  );
}

function CreateDisk({
  busy,
  onCancel,
  onCreate,
}: {
  busy: boolean;
  onCancel: () => void;
  onCreate: (r: {
    path: string;
    sizeMiB: number;
    format: 'qcow2' | 'raw';
    allocation: 'thin' | 'preallocated';
  }) => void;
}) {
  const [name, setName] = useState('disk.qcow2');
  const [sizeGiB, setSizeGiB] = useState(8);
  const [format, setFormat] = useState<'qcow2' | 'raw'>('qcow2');
  const [allocation, setAllocation] = useState<'thin' | 'preallocated'>('thin');
  return (
    <div className="media-form" data-testid="media-create-form">
      <label>
        File name (in the library's Media folder, or an absolute path)
        <input
          value={name}
          onChange={(e) => setName(e.target.value)}
          data-testid="media-create-name"
        />
      </label>
      <label>
        Size (GiB)
        <input
          type="number"
          min={0.01}
          step={0.5}
          value={sizeGiB}
          onChange={(e) => setSizeGiB(Number(e.target.value))}
          data-testid="media-create-size"
        />
      </label>
      <label>
        Format
        <select value={format} onChange={(e) => setFormat(e.target.value as 'qcow2' | 'raw')}>
          <option value="qcow2">qcow2 (QEMU copy-on-write, grows as used)</option>
          <option value="raw">raw (plain image)</option>
        </select>
      </label>
      <label>
        <input
          type="checkbox"
          checked={allocation === 'preallocated'}
          onChange={(e) => setAllocation(e.target.checked ? 'preallocated' : 'thin')}
        />{' '}
        Pre-allocate the whole size now
      </label>
      <div className="modal-buttons">
        <button onClick={onCancel}>Cancel</button>
        <button
          className="primary"
          disabled={busy || !name.trim() || !(sizeGiB > 0)}
          onClick={() =>
            onCreate({ path: name.trim(), sizeMiB: Math.round(sizeGiB * 1024), format, allocation })
          }
          data-testid="media-create-ok"
        >
          Create
        </button>
      </div>
    </div>
  );
}

function ResizeDisk({
  medium,
  busy,
  onCancel,
  onResize,
}: {
  medium: MediumInfo;
  busy: boolean;
  onCancel: () => void;
  onResize: (sizeMiB: number) => void;
}) {
  const current = Math.ceil(medium.virtualSizeBytes / MiB);
  const [sizeMiB, setSizeMiB] = useState(current);
  return (
    <div className="media-form" data-testid="media-resize-form">
      <label>
        New size (MiB; now {current} MiB — disks only grow)
        <input
          type="number"
          min={current}
          value={sizeMiB}
          onChange={(e) => setSizeMiB(Number(e.target.value))}
          data-testid="media-resize-size"
        />
      </label>
      <div className="modal-buttons">
        <button onClick={onCancel}>Cancel</button>
        <button
          className="primary"
          disabled={busy || !(sizeMiB > current)}
          onClick={() => onResize(Math.round(sizeMiB))}
          data-testid="media-resize-ok"
        >
          Resize
        </button>
      </div>
    </div>
  );
}

function AttachDisk({
  medium,
  vms,
  busy,
  onCancel,
  onAttach,
}: {
  medium: MediumInfo;
  vms: VmSummary[];
  busy: boolean;
  onCancel: () => void;
  onAttach: (id: string, bus: 'virtio' | 'ide') => void;
}) {
  const candidates = vms.filter((v) => v.accessible && !medium.usedBy.some((u) => u.id === v.id));
  const [id, setId] = useState(candidates[0]?.id ?? '');
  const [bus, setBus] = useState<'virtio' | 'ide'>('virtio');
  return (
    <div className="media-form" data-testid="media-attach-form">
      <label>
        VM (powered off)
        <select value={id} onChange={(e) => setId(e.target.value)} data-testid="media-attach-vm">
          {candidates.map((v) => (
            <option key={v.id} value={v.id}>
              {v.accessible ? v.config.name : v.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Bus
        <select value={bus} onChange={(e) => setBus(e.target.value as 'virtio' | 'ide')}>
          <option value="virtio">virtio</option>
          <option value="ide">IDE</option>
        </select>
      </label>
      <div className="modal-buttons">
        <button onClick={onCancel}>Cancel</button>
        <button
          className="primary"
          disabled={busy || !id}
          onClick={() => onAttach(id, bus)}
          data-testid="media-attach-ok"
        >
          Attach
        </button>
      </div>
    </div>
  );
}
