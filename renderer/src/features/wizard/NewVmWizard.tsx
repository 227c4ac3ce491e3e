/**
 * The New VM wizard: Name and folder -> OS -> Hardware -> Disk -> Optical drive -> Summary.
 * Each step validates before Next; the server validates again on Finish (its errors come back
 * on the step they belong to).
 */
import { useEffect, useState } from 'react';
import type {
  DiskAllocation,
  DiskFormat,
  IsoInfo,
  OsCatalogEntry,
} from '../../../../preload/contract';
import { call } from '../../lib/bridge';
import { useLibrary } from '../../stores/library';
import { FilePicker } from '../file-picker/FilePicker';
import { memoryWarning, STEPS, stepForCreateError, validateStep } from './wizard-steps';

export function NewVmWizard({
  onClose,
  initialIso = null,
}: {
  onClose: () => void;
  /** An ISO dropped on the window: chosen, and its OS detected, from the start. */
  initialIso?: string | null;
}) {
  const { catalog, host, select } = useLibrary();
  const [step, setStep] = useState(0);
  const [name, setName] = useState('');
  const [folder, setFolder] = useState('');
  const [osId, setOsId] = useState('debian-12');
  const os: OsCatalogEntry | undefined = catalog.find((o) => o.id === osId);
  const [cpus, setCpus] = useState(os?.defaults.cpus ?? 1);
  const [memory, setMemory] = useState(os?.defaults.memoryMiB ?? 1024);
  const [withDisk, setWithDisk] = useState(true);
  const [diskGiB, setDiskGiB] = useState((os?.defaults.diskMiB ?? 8192) / 1024);
  const [format, setFormat] = useState<DiskFormat>('qcow2');
  const [allocation, setAllocation] = useState<DiskAllocation>('thin');
  const [iso, setIso] = useState(initialIso ?? '');
  const [isoInfo, setIsoInfo] = useState<IsoInfo | null>(null);
  const [picking, setPicking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const maxCpus = host?.cores ?? 1;
  const maxMemory = host?.memoryMiB ?? 1024;

  const chooseOs = (id: string) => {
    setOsId(id);
    const entry = catalog.find((o) => o.id === id);
    if (entry) {
      setCpus(Math.min(entry.defaults.cpus, maxCpus));
      setMemory(Math.min(entry.defaults.memoryMiB, maxMemory));
      setDiskGiB(entry.defaults.diskMiB / 1024);
    }
  };
  const inspect = async (path: string) => {
    setIso(path);
    setIsoInfo(null);
    try {
      const info = await call('iso.inspect', { path });
      setIsoInfo(info);
      setError(null);
      if (info.detectedOs) chooseOs(info.detectedOs.id);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  // A dropped ISO is inspected once, as if picked.
  useEffect(() => {
    if (!initialIso) return;
    let alive = true;
    call('iso.inspect', { path: initialIso })
      .then((info) => {
        if (!alive) return;
        setIsoInfo(info);
        if (info.detectedOs) chooseOs(info.detectedOs.id);
        // VirtualBox names the VM after the ISO file; keep to characters every file system takes.
        if (name === '')
          setName(
            (initialIso.split('/').pop() ?? '')
              .replace(/\.iso$/i, '')
              .replace(/[^\w .()+-]+/g, ' ')
              .trim()
              .slice(0, 64),
          );
      })
      .catch((e: Error) => alive && setError(e.message));
    return () => {
      alive = false;
    };
    // Once per wizard: the dropped file does not change while it is open.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const validate = (): string | null =>
    validateStep(
      step,
      { name, cpus, memoryMiB: memory, withDisk, diskGiB },
      { cores: maxCpus, memoryMiB: maxMemory },
    );
  const next = () => {
    const problem = validate();
    setError(problem);
    if (!problem) setStep((s) => s + 1);
  };
  const finish = async () => {
    setBusy(true);
    try {
      const vm = await call('vm.create', {
        name: name.trim(),
        folder: folder.trim() === '' ? null : folder.trim(),
        os: { family: os?.family ?? 'other', id: osId },
        cpus,
        memoryMiB: memory,
        disk: withDisk
          ? { sizeMiB: Math.round(diskGiB * 1024), format, allocation, bus: 'virtio' }
          : null,
        iso: iso.trim() === '' ? null : iso.trim(),
      });
      select(vm.id);
      onClose();
    } catch (e) {
      // Take the user to the step where the refused value can be changed.
      const message = (e as Error).message;
      setStep(stepForCreateError(message));
      setError(message);
    } finally {
      setBusy(false);
    }
  };
  const memoryNote = memoryWarning(memory, maxMemory);

  return (
    <div className="modal-backdrop">
      <div
        className="modal wizard"
        role="dialog"
        aria-label="Create Virtual Machine"
        data-testid="wizard"
      >
        <h2>Create Virtual Machine</h2>
        <ol className="wizard-steps">
          {STEPS.map((s, i) => (
            <li key={s} className={i === step ? 'current' : i < step ? 'done' : ''}>
              {s}
            </li>
          ))}
        </ol>
        <div className="wizard-body">
          {step === 0 && (
            <>
              <label>
                Name
                <input
                  autoFocus
                  value={name}
                  onChange={(e) => setName(e.target.value)}
                  data-testid="wizard-name"
                  placeholder="e.g. Debian Server"
                />
              </label>
              <label>
                Folder <span className="muted">(empty: the library, {host?.libraryRoot})</span>
                <input
                  value={folder}
                  onChange={(e) => setFolder(e.target.value)}
                  data-testid="wizard-folder"
                />
              </label>
              {initialIso && (
                <div className="iso-info" data-testid="wizard-dropped-iso">
                  <div>
                    ISO image: <strong>{initialIso.split('/').pop()}</strong>
                  </div>
                  <div>
                    {isoInfo
                      ? `Detected OS: ${isoInfo.detectedOs?.label ?? 'unknown — choose the type on the next page'}`
                      : 'Reading the image…'}
                  </div>
                </div>
              )}
            </>
          )}
          {step === 1 && (
            <>
              <label>
                Type and version
                <select
                  value={osId}
                  onChange={(e) => chooseOs(e.target.value)}
                  data-testid="wizard-os"
                >
                  {catalog.map((o) => (
                    <option key={o.id} value={o.id}>
                      {o.label}
                    </option>
                  ))}
                </select>
              </label>
              <div className="detect">
                <button onClick={() => setPicking(true)} data-testid="wizard-detect">
                  Detect from ISO…
                </button>
                {isoInfo && (
                  <div className="iso-info" data-testid="iso-info">
                    <div>
                      Volume label: <strong>{isoInfo.volumeLabel || '(none)'}</strong>
                    </div>
                    <div>
                      Bootable:{' '}
                      {isoInfo.bootable ? `yes (${isoInfo.bootPlatforms.join(', ')})` : 'no'}
                    </div>
                    <div>
                      Detected OS:{' '}
                      {isoInfo.detectedOs
                        ? isoInfo.detectedOs.label
                        : 'unknown — choose the type yourself'}
                    </div>
                  </div>
                )}
              </div>
            </>
          )}
          {step === 2 && (
            <>
              <label>
                Base memory (MiB) <span className="muted">host: {maxMemory} MiB</span>
                <div className="slider">
                  <input
                    type="range"
                    min={4}
                    max={maxMemory}
                    step={4}
                    value={memory}
                    onChange={(e) => setMemory(Number(e.target.value))}
                  />
                  <input
                    type="number"
                    value={memory}
                    onChange={(e) => setMemory(Number(e.target.value))}
                    data-testid="wizard-memory"
                  />
                </div>
              </label>
              {memoryNote && <div className="warning">{memoryNote}</div>}
              <label>
                Processors <span className="muted">host: {maxCpus} cores</span>
                <div className="slider">
                  <input
                    type="range"
                    min={1}
                    max={maxCpus}
                    value={cpus}
                    onChange={(e) => setCpus(Number(e.target.value))}
                  />
                  <input
                    type="number"
                    value={cpus}
                    onChange={(e) => setCpus(Number(e.target.value))}
                    data-testid="wizard-cpus"
                  />
                </div>
              </label>
            </>
          )}
          {step === 3 && (
            <>
              <label className="check">
                <input
                  type="checkbox"
                  checked={withDisk}
                  onChange={(e) => setWithDisk(e.target.checked)}
                />{' '}
                Create a virtual hard disk
              </label>
              {withDisk && (
                <>
                  <label>
                    Size (GiB)
                    <input
                      type="number"
                      value={diskGiB}
                      onChange={(e) => setDiskGiB(Number(e.target.value))}
                      data-testid="wizard-disk-size"
                    />
                  </label>
                  <label>
                    Format
                    <select
                      value={format}
                      onChange={(e) => setFormat(e.target.value as DiskFormat)}
                    >
                      <option value="qcow2">qcow2 (QEMU copy-on-write)</option>
                      <option value="raw">raw</option>
                    </select>
                  </label>
                  <label>
                    Allocation
                    <select
                      value={allocation}
                      onChange={(e) => setAllocation(e.target.value as DiskAllocation)}
                    >
                      <option value="thin">Dynamically allocated (thin)</option>
                      <option value="preallocated">Pre-allocate full size</option>
                    </select>
                  </label>
                  <div className="muted">
                    The disk is recorded in the VM's settings; creating the image file itself comes
                    with Vireo's disk support.
                  </div>
                </>
              )}
            </>
          )}
          {step === 4 && (
            <>
              <label>
                ISO image for the optical drive <span className="muted">(optional)</span>
                <div className="slider">
                  <input
                    value={iso}
                    onChange={(e) => setIso(e.target.value)}
                    data-testid="wizard-iso"
                  />
                  <button onClick={() => setPicking(true)}>Browse…</button>
                </div>
              </label>
            </>
          )}
          {step === 5 && (
            <dl className="summary" data-testid="wizard-summary">
              <dt>Name</dt>
              <dd>{name}</dd>
              <dt>Folder</dt>
              <dd>{folder || host?.libraryRoot}</dd>
              <dt>OS</dt>
              <dd>{os?.label}</dd>
              <dt>Hardware</dt>
              <dd>
                {cpus} CPU, {memory} MiB
              </dd>
              <dt>Disk</dt>
              <dd>{withDisk ? `${diskGiB} GiB ${format}, ${allocation}` : 'none'}</dd>
              <dt>Optical drive</dt>
              <dd>{iso || 'empty'}</dd>
            </dl>
          )}
          {error && (
            <div className="field-error" role="alert" data-testid="wizard-error">
              {error}
            </div>
          )}
        </div>
        <div className="modal-buttons">
          <button onClick={onClose}>Cancel</button>
          <button disabled={step === 0} onClick={() => (setError(null), setStep((s) => s - 1))}>
            Back
          </button>
          {step < STEPS.length - 1 ? (
            <button className="primary" onClick={next} data-testid="wizard-next">
              Next
            </button>
          ) : (
            <button
              className="primary"
              disabled={busy}
              onClick={() => void finish()}
              data-testid="wizard-finish"
            >
              Finish
            </button>
          )}
        </div>
        {picking && (
          <FilePicker
            extensions={['iso']}
            onCancel={() => setPicking(false)}
            onPick={(p) => {
              setPicking(false);
              void inspect(p);
            }}
          />
        )}
      </div>
    </div>
  );
}
