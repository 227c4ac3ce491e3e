/** The main window: toolbar, VM list, details pane, and the dialogs they open. */
import { lazy, Suspense, useEffect, useRef, useState } from 'react';
import type { CallName } from '../../../preload/contract';
import appIcon from '../../../assets/icons/vireo.svg';
import { bridge, call } from '../lib/bridge';
import { runMenuCommand, type MenuActions } from './menu-commands';
import { useConnection } from '../stores/connection';
import { useLibrary } from '../stores/library';
import { Details } from '../features/details/Details';
import { DeleteDialog } from '../features/delete/DeleteDialog';
import { SettingsDialog } from '../features/settings/SettingsDialog';
import { VmList } from '../features/vm-list/VmList';
import { openConsole } from '../features/console/console-route';
import {
  dragHasFiles,
  droppedIso,
  isoPathFor,
  type UploadProgress,
} from '../features/drop/iso-drop';

// The wizard is the one screen that needs the contract's zod schemas at run time (name rules):
// loading it on first use keeps zod out of the bundle the main window waits for.
const NewVmWizard = lazy(() =>
  import('../features/wizard/NewVmWizard').then((m) => ({ default: m.NewVmWizard })),
);

const MediaManager = lazy(() =>
  import('../features/media/MediaManager').then((m) => ({ default: m.MediaManager })),
);

type Dialog = 'new' | 'settings' | 'delete' | 'media' | null;

function ToolButton({
  label,
  icon,
  disabled,
  onClick,
  testId,
}: {
  label: string;
  icon: string;
  disabled?: boolean;
  onClick: () => void;
  testId: string;
}) {
  return (
    <button
      className="tool"
      disabled={disabled}
      onClick={onClick}
      data-testid={testId}
      title={label}
    >
      <span className="tool-icon" aria-hidden>
        {icon}
      </span>
      <span>{label}</span>
    </button>
  );
}

export function App() {
  const { vms, loaded, selectedId, error, load, showError, dismissError, host } = useLibrary();
  const connected = useConnection((s) => s.connected);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [wizardIso, setWizardIso] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const [upload, setUpload] = useState<UploadProgress | null>(null);
  useEffect(() => {
    void load();
  }, [load]);
  const vm = vms.find((v) => v.id === selectedId) ?? null;
  const state = vm?.state;
  const act = (name: Extract<CallName, 'vm.start' | 'vm.pause' | 'vm.resume' | 'vm.powerOff'>) => {
    if (vm) call(name, { id: vm.id }).catch(showError);
  };
  // A VM with a screen gets its console window on Start, as in VirtualBox (a tab in browser
  // mode, a window of its own in Electron).
  const hasScreen = vm?.accessible === true && vm.config.boot.source === 'firmware';
  const start = () => {
    if (vm && hasScreen) openConsole(vm.id);
    act('vm.start');
  };

  // The application menu (Electron): its commands act on the selected VM like the toolbar.
  const menuActions = useRef<{ vm: typeof vm; actions: MenuActions } | null>(null);
  useEffect(() => {
    menuActions.current = {
      vm,
      actions: {
        newVm: () => setDialog('new'),
        openSettings: () => setDialog('settings'),
        openDelete: () => setDialog('delete'),
        start,
        call: (name) => {
          if (vm) call(name, { id: vm.id }).catch(showError);
        },
      },
    };
  });
  useEffect(
    () =>
      bridge.on('menu.command', ({ command }) => {
        const current = menuActions.current;
        if (!current) return;
        const refused = runMenuCommand(command, current.vm, current.actions);
        if (refused) showError(new Error(refused));
      }),
    [showError],
  );

  /**
   * Drag and drop of an ISO: on a VM in the list it goes into that VM's optical drive (a live
   * medium change if it runs); anywhere else it opens the New VM wizard with it chosen.
   */
  const onDrop = (e: React.DragEvent<HTMLDivElement>) => {
    if (!dragHasFiles(e)) return;
    e.preventDefault();
    setDragging(false);
    const row = (e.target as Element).closest('[data-vm-id]');
    const target = row ? vms.find((v) => v.id === row.getAttribute('data-vm-id')) : undefined;
    let file: File;
    try {
      file = droppedIso(e.dataTransfer.files);
    } catch (err) {
      return showError(err);
    }
    if (target && !target.accessible)
      return showError(new Error(`${target.name} is inaccessible.`));
    isoPathFor(file, setUpload)
      .then(async (iso) => {
        setUpload(null);
        if (target) {
          useLibrary.getState().select(target.id);
          await call('vm.update', { id: target.id, changes: { iso } });
        } else {
          setWizardIso(iso);
          setDialog('new');
        }
      })
      .catch((err: unknown) => {
        setUpload(null);
        showError(err);
      });
  };

  return (
    <div
      className="app"
      onDragOver={(e) => {
        if (!dragHasFiles(e)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={onDrop}
    >
      {dragging && (
        <div className="drop-hint" data-testid="drop-hint">
          Drop an ISO image: on a VM to put it in its optical drive, anywhere else to create a VM
          from it.
        </div>
      )}
      {upload && (
        <div className="upload-progress" role="status" data-testid="upload-progress">
          Copying {upload.name} to the library…
          <progress value={upload.sent} max={upload.total || 1} />
          {upload.total > 0 ? ` ${Math.floor((100 * upload.sent) / upload.total)} %` : ''}
        </div>
      )}
      <header className="toolbar" role="toolbar">
        <div className="brand">
          <img src={appIcon} width={26} height={26} alt="" />
          Vireo
        </div>
        <ToolButton label="New" icon="✚" onClick={() => setDialog('new')} testId="tool-new" />
        <ToolButton
          label="Settings"
          icon="⚙"
          disabled={!vm?.accessible}
          onClick={() => setDialog('settings')}
          testId="tool-settings"
        />
        <ToolButton
          label="Start"
          icon="▶"
          disabled={!vm?.accessible || state === 'running' || state === 'paused'}
          onClick={start}
          testId="tool-start"
        />
        <ToolButton
          label="Show"
          icon="▣"
          disabled={!hasScreen || (state !== 'running' && state !== 'paused')}
          onClick={() => vm && openConsole(vm.id)}
          testId="tool-show"
        />
        <ToolButton
          label={state === 'paused' ? 'Resume' : 'Pause'}
          icon="❚❚"
          disabled={state !== 'running' && state !== 'paused'}
          onClick={() => act(state === 'paused' ? 'vm.resume' : 'vm.pause')}
          testId="tool-pause"
        />
        <ToolButton
          label="Stop"
          icon="■"
          disabled={state !== 'running' && state !== 'paused'}
          onClick={() => act('vm.powerOff')}
          testId="tool-stop"
        />
        <ToolButton
          label="Delete"
          icon="✕"
          disabled={!vm || state === 'running' || state === 'paused'}
          onClick={() => setDialog('delete')}
          testId="tool-delete"
        />
        <ToolButton label="Media" icon="⛁" onClick={() => setDialog('media')} testId="tool-media" />
        <div className="spacer" />
        {host && !host.hypervisor.available && (
          <div className="host-warning" title={host.hypervisor.reason ?? ''}>
            VMs cannot run on this host: {host.hypervisor.reason}
          </div>
        )}
      </header>
      {!connected && (
        <div className="banner disconnected">
          Disconnected from the Vireo server — reconnecting…
        </div>
      )}
      {error && (
        <div className="banner error" role="alert" data-testid="error-banner">
          <span>{error}</span>
          <button onClick={dismissError} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}
      <main className="main">
        {loaded && vms.length === 0 ? (
          <div className="empty" data-testid="empty-state">
            <h2>Welcome to Vireo</h2>
            <p>You have no virtual machines yet.</p>
            <p>
              Click <strong>New</strong> to create one: give it a name, pick the operating system
              (or let Vireo detect it from an ISO image), choose memory, processors and a disk.
            </p>
            <button className="primary" onClick={() => setDialog('new')}>
              Create a virtual machine
            </button>
          </div>
        ) : (
          <>
            <aside className="sidebar">
              <VmList
                onOpenSettings={() => vm?.accessible && setDialog('settings')}
                onDelete={() => vm && setDialog('delete')}
              />
            </aside>
            <section className="content">
              {vm ? (
                <Details vm={vm} />
              ) : (
                <div className="muted pad">Select a virtual machine.</div>
              )}
            </section>
          </>
        )}
      </main>
      {dialog === 'new' && (
        <Suspense fallback={<div className="modal-backdrop" />}>
          <NewVmWizard
            initialIso={wizardIso}
            onClose={() => {
              setDialog(null);
              setWizardIso(null);
            }}
          />
        </Suspense>
      )}
      {dialog === 'settings' && vm?.accessible && (
        <SettingsDialog vm={vm} onClose={() => setDialog(null)} />
      )}
      {dialog === 'delete' && vm && <DeleteDialog vm={vm} onClose={() => setDialog(null)} />}
      {dialog === 'media' && (
        <Suspense fallback={<div className="modal-backdrop" />}>
          <MediaManager onClose={() => setDialog(null)} />
        </Suspense>
      )}
    </div>
  );
}
