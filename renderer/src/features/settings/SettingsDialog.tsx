/**
 * Settings for an existing VM, in pages like VirtualBox's. Fields that need the VM powered off
 * are disabled, with the reason, while it runs.
 */
import { useState } from 'react';
import type { VmChanges, VmSummary } from '../../../../preload/contract';
import { call } from '../../lib/bridge';
import { useLibrary } from '../../stores/library';

const PAGES = ['General', 'System', 'Storage', 'Serial Port'] as const;
type Page = (typeof PAGES)[number];

export function SettingsDialog({
  vm,
  onClose,
}: {
  vm: Extract<VmSummary, { accessible: true }>;
  onClose: () => void;
}) {
  const { catalog, host } = useLibrary();
  const c = vm.config;
  const running =
    vm.state === 'running' ||
    vm.state === 'paused' ||
    vm.state === 'starting' ||
    vm.state === 'stopping';
  const [page, setPage] = useState<Page>('General');
  const [name, setName] = useState(c.name);
  const [description, setDescription] = useState(c.description);
  const [osId, setOsId] = useState(c.os.id);
  const [memory, setMemory] = useState(c.memoryMiB);
  const [cpus, setCpus] = useState(c.cpus);
  const [iso, setIso] = useState(c.optical.iso ?? '');
  const [serial, setSerial] = useState(c.serial.enabled);
  const [error, setError] = useState<string | null>(null);

  const save = async () => {
    const changes: VmChanges = {};
    if (name !== c.name) changes.name = name;
    if (description !== c.description) changes.description = description;
    if (osId !== c.os.id) {
      const os = catalog.find((o) => o.id === osId);
      if (os) changes.os = { family: os.family, id: os.id };
    }
    if (memory !== c.memoryMiB) changes.memoryMiB = memory;
    if (cpus !== c.cpus) changes.cpus = cpus;
    if ((iso.trim() || null) !== c.optical.iso) changes.iso = iso.trim() || null;
    if (serial !== c.serial.enabled) changes.serial = { enabled: serial };
    try {
      if (Object.keys(changes).length > 0) await call('vm.update', { id: vm.id, changes });
      onClose();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const offOnly = running ? 'Power off the VM to change this.' : undefined;

  return (
    <div className="modal-backdrop">
      <div
        className="modal settings"
        role="dialog"
        aria-label={`${c.name} - Settings`}
        data-testid="settings"
      >
        <h2>{c.name} — Settings</h2>
        <div className="settings-layout">
          <nav className="settings-pages">
            {PAGES.map((p) => (
              <button
                key={p}
                className={p === page ? 'current' : ''}
                onClick={() => setPage(p)}
                data-testid={`settings-page-${p}`}
              >
                {p}
              </button>
            ))}
          </nav>
          <div className="settings-body">
            {page === 'General' && (
              <>
                <label>
                  Name
                  <input
                    value={name}
                    disabled={running}
                    title={offOnly}
                    onChange={(e) => setName(e.target.value)}
                    data-testid="settings-name"
                  />
                </label>
                <label>
                  Operating system
                  <select value={osId} onChange={(e) => setOsId(e.target.value)}>
                    {catalog.map((o) => (
                      <option key={o.id} value={o.id}>
                        {o.label}
                      </option>
                    ))}
                  </select>
                </label>
                <label>
                  Description
                  <textarea value={description} onChange={(e) => setDescription(e.target.value)} />
                </label>
              </>
            )}
            {page === 'System' && (
              <>
                {running && <div className="warning">{offOnly}</div>}
                <label>
                  Base memory (MiB) <span className="muted">host: {host?.memoryMiB} MiB</span>
                  <input
                    type="number"
                    value={memory}
                    disabled={running}
                    onChange={(e) => setMemory(Number(e.target.value))}
                    data-testid="settings-memory"
                  />
                </label>
                <label>
                  Processors <span className="muted">host: {host?.cores} cores</span>
                  <input
                    type="number"
                    value={cpus}
                    disabled={running}
                    onChange={(e) => setCpus(Number(e.target.value))}
                    data-testid="settings-cpus"
                  />
                </label>
              </>
            )}
            {page === 'Storage' && (
              <>
                <label>
                  Optical drive (ISO path, empty to eject)
                  <input
                    value={iso}
                    onChange={(e) => setIso(e.target.value)}
                    data-testid="settings-iso"
                  />
                </label>
                <div className="muted">
                  Disks:{' '}
                  {c.disks.length === 0
                    ? 'none'
                    : c.disks.map((d) => `${d.path} (${d.format})`).join(', ')}
                </div>
              </>
            )}
            {page === 'Serial Port' && (
              <label className="check">
                <input
                  type="checkbox"
                  checked={serial}
                  onChange={(e) => setSerial(e.target.checked)}
                />{' '}
                Enable COM1
              </label>
            )}
            {error && (
              <div className="field-error" role="alert" data-testid="settings-error">
                {error}
              </div>
            )}
          </div>
        </div>
        <div className="modal-buttons">
          <button onClick={onClose}>Cancel</button>
          <button className="primary" onClick={() => void save()} data-testid="settings-ok">
            OK
          </button>
        </div>
      </div>
    </div>
  );
}
