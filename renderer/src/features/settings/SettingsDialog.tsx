/**
 * Settings for an existing VM, in pages like VirtualBox's (General, System, Display, Storage,
 * Network, Serial). Saves only what changed, with one `vm.update`. Fields the control plane
 * refuses to change while the VM runs (name, CPUs, memory, boot order, display, network: see
 * `needsOff` in main/control/library.ts) are disabled, with the reason, while it runs.
 */
import { useState } from 'react';
import type { VmChanges, VmSummary } from '../../../../preload/contract';
import { call } from '../../lib/bridge';
import { useLibrary } from '../../stores/library';
import { FilePicker } from '../file-picker/FilePicker';
import {
  BOOT_DEVICE_LABELS,
  bootEntries,
  bootOrderChanged,
  bootOrderOf,
  moveEntry,
} from './boot-order';

const PAGES = ['General', 'System', 'Display', 'Storage', 'Network', 'Serial'] as const;
type Page = (typeof PAGES)[number];

/** VRAM limits of DisplayConfig in preload/vm-config.ts. */
const VRAM_MIN = 8;
const VRAM_MAX = 256;

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
  const [boot, setBoot] = useState(() => bootEntries(c.boot));
  const [bootTouched, setBootTouched] = useState(false);
  const [bootMenuOn, setBootMenuOn] = useState(c.bootMenu.enabled);
  const [bootMenuMs, setBootMenuMs] = useState(c.bootMenu.timeoutMs);
  const [vram, setVram] = useState(c.display.vramMiB);
  const [iso, setIso] = useState(c.optical.iso ?? '');
  const [picking, setPicking] = useState(false);
  const [networkOn, setNetworkOn] = useState(c.network.adapter !== 'none');
  const [mac, setMac] = useState(c.network.mac);
  const [serial, setSerial] = useState(c.serial.enabled);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

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
    if (bootTouched) {
      const order = bootOrderOf(boot);
      if (typeof order === 'string') {
        setPage('System');
        setError(order);
        return;
      }
      if (bootOrderChanged(c.boot, order)) changes.bootOrder = order;
    }
    if (bootMenuOn !== c.bootMenu.enabled || bootMenuMs !== c.bootMenu.timeoutMs) {
      if (!Number.isInteger(bootMenuMs) || bootMenuMs < 0 || bootMenuMs > 65535) {
        setPage('System');
        setError('The boot menu waits 0 to 65535 milliseconds for ESC.');
        return;
      }
      changes.bootMenu = { enabled: bootMenuOn, timeoutMs: bootMenuMs };
    }
    if (vram !== c.display.vramMiB) changes.display = { vramMiB: vram };
    if ((iso.trim() || null) !== c.optical.iso) changes.iso = iso.trim() || null;
    const adapter = networkOn ? 'virtio-net' : 'none';
    if (adapter !== c.network.adapter || mac.trim().toLowerCase() !== c.network.mac)
      changes.network = { adapter, mac: mac.trim().toLowerCase() };
    if (serial !== c.serial.enabled) changes.serial = { enabled: serial };
    setBusy(true);
    try {
      if (Object.keys(changes).length > 0) await call('vm.update', { id: vm.id, changes });
      onClose();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const offOnly = running ? 'Power off the VM to change this.' : undefined;
  const offNote = running && (
    <div className="warning">Some settings on this page can only change while the VM is off.</div>
  );

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
                {offNote}
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
                {offNote}
                <label>
                  Base memory (MiB) <span className="muted">host: {host?.memoryMiB} MiB</span>
                  <input
                    type="number"
                    value={memory}
                    disabled={running}
                    title={offOnly}
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
                    title={offOnly}
                    onChange={(e) => setCpus(Number(e.target.value))}
                    data-testid="settings-cpus"
                  />
                </label>
                <div className="field-label">Boot order</div>
                {c.boot.source === 'linux-kernel' && (
                  <div className="muted">
                    This VM boots a Linux kernel directly ({c.boot.kernel}); choosing a boot order
                    switches it to the firmware (BIOS).
                  </div>
                )}
                <ol className="boot-order" data-testid="settings-boot-order">
                  {boot.map((entry, i) => (
                    <li key={entry.device}>
                      <label className="check">
                        <input
                          type="checkbox"
                          checked={entry.enabled}
                          disabled={running}
                          title={offOnly}
                          onChange={(e) => {
                            setBootTouched(true);
                            setBoot(
                              boot.map((b, j) =>
                                j === i ? { ...b, enabled: e.target.checked } : b,
                              ),
                            );
                          }}
                          data-testid={`settings-boot-${entry.device}`}
                        />{' '}
                        {BOOT_DEVICE_LABELS[entry.device]}
                      </label>
                      <button
                        aria-label={`Move ${BOOT_DEVICE_LABELS[entry.device]} up`}
                        disabled={running || i === 0}
                        onClick={() => (setBootTouched(true), setBoot(moveEntry(boot, i, -1)))}
                      >
                        ▲
                      </button>
                      <button
                        aria-label={`Move ${BOOT_DEVICE_LABELS[entry.device]} down`}
                        disabled={running || i === boot.length - 1}
                        onClick={() => (setBootTouched(true), setBoot(moveEntry(boot, i, 1)))}
                      >
                        ▼
                      </button>
                    </li>
                  ))}
                </ol>
                <label className="check">
                  <input
                    type="checkbox"
                    checked={bootMenuOn}
                    disabled={running}
                    title={offOnly}
                    onChange={(e) => setBootMenuOn(e.target.checked)}
                    data-testid="settings-boot-menu"
                  />{' '}
                  Show the firmware&apos;s boot menu (&quot;Press ESC for boot menu&quot;)
                </label>
                <label>
                  Boot menu wait (ms){' '}
                  <input
                    type="number"
                    min={0}
                    max={65535}
                    step={500}
                    value={bootMenuMs}
                    disabled={running || !bootMenuOn}
                    title={offOnly}
                    onChange={(e) => setBootMenuMs(Number(e.target.value))}
                    data-testid="settings-boot-menu-timeout"
                  />
                </label>
              </>
            )}
            {page === 'Display' && (
              <>
                {offNote}
                <label>
                  Video memory (MiB){' '}
                  <span className="muted">
                    {VRAM_MIN}–{VRAM_MAX}
                  </span>
                  <div className="slider">
                    <input
                      type="range"
                      min={VRAM_MIN}
                      max={VRAM_MAX}
                      value={vram}
                      disabled={running}
                      title={offOnly}
                      onChange={(e) => setVram(Number(e.target.value))}
                    />
                    <input
                      type="number"
                      value={vram}
                      disabled={running}
                      title={offOnly}
                      onChange={(e) => setVram(Number(e.target.value))}
                      data-testid="settings-vram"
                    />
                  </div>
                </label>
              </>
            )}
            {page === 'Storage' && (
              <>
                <label>
                  Optical drive (ISO image; empty to eject)
                  <div className="slider">
                    <input
                      value={iso}
                      onChange={(e) => setIso(e.target.value)}
                      data-testid="settings-iso"
                    />
                    <button onClick={() => setPicking(true)}>Browse…</button>
                  </div>
                </label>
                <div className="field-label">Hard disks</div>
                <div className="muted">
                  {c.disks.length === 0
                    ? 'none'
                    : c.disks
                        .map(
                          (d) =>
                            `${d.path} — ${(d.sizeMiB / 1024).toFixed(1)} GiB ${d.format}, ${d.allocation}, ${d.bus}`,
                        )
                        .join('; ')}
                </div>
              </>
            )}
            {page === 'Network' && (
              <>
                {offNote}
                <label className="check">
                  <input
                    type="checkbox"
                    checked={networkOn}
                    disabled={running}
                    title={offOnly}
                    onChange={(e) => setNetworkOn(e.target.checked)}
                    data-testid="settings-network-enabled"
                  />{' '}
                  Enable network adapter (virtio-net)
                </label>
                <label>
                  MAC address
                  <input
                    value={mac}
                    disabled={running || !networkOn}
                    title={offOnly}
                    onChange={(e) => setMac(e.target.value)}
                    data-testid="settings-mac"
                  />
                </label>
              </>
            )}
            {page === 'Serial' && (
              <label className="check">
                <input
                  type="checkbox"
                  checked={serial}
                  onChange={(e) => setSerial(e.target.checked)}
                  data-testid="settings-serial"
                />{' '}
                Enable COM1 (the VM's serial console)
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
          <button
            className="primary"
            disabled={busy}
            onClick={() => void save()}
            data-testid="settings-ok"
          >
            OK
          </button>
        </div>
        {picking && (
          <FilePicker
            extensions={['iso']}
            onCancel={() => setPicking(false)}
            onPick={(p) => {
              setPicking(false);
              setIso(p);
            }}
          />
        )}
      </div>
    </div>
  );
}
