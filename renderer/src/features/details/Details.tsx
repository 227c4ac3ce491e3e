/** The details pane: the selected VM's settings grouped like VirtualBox's, live from events. */
import { lazy, Suspense, useState } from 'react';
import type { VmSummary } from '../../../../preload/contract';
import { useLibrary } from '../../stores/library';
import { STATE_LABELS } from '../vm-list/VmList';

// Charts (recharts) and the terminal (xterm.js) are most of the renderer's weight: loaded when
// their tab is first opened, so the main window's first paint does not wait for them.
const PerformanceView = lazy(() =>
  import('../performance/PerformanceView').then((m) => ({ default: m.PerformanceView })),
);
const SerialConsole = lazy(() =>
  import('../serial/SerialConsole').then((m) => ({ default: m.SerialConsole })),
);

function Section({ title, rows }: { title: string; rows: [string, string][] }) {
  return (
    <section className="details-section">
      <h3>{title}</h3>
      <dl>
        {rows.map(([k, v]) => (
          <div key={k} className="row">
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

type Tab = 'details' | 'performance' | 'serial';

/** The details pane: settings, live performance charts, and the serial console, as tabs. */
export function Details({ vm }: { vm: VmSummary }) {
  const [tab, setTab] = useState<Tab>('details');
  const running = vm.state === 'running' || vm.state === 'paused';
  if (!vm.accessible) return <DetailsSettings vm={vm} />;
  return (
    <div className="details-tabs">
      <div className="tabs" role="tablist">
        {(
          [
            ['details', 'Details'],
            ['performance', 'Performance'],
            ['serial', 'Serial console'],
          ] as const
        ).map(([id, label]) => (
          <button
            key={id}
            role="tab"
            aria-selected={tab === id}
            className={tab === id ? 'tab selected' : 'tab'}
            onClick={() => setTab(id)}
            data-testid={`tab-${id}`}
          >
            {label}
          </button>
        ))}
      </div>
      {tab === 'details' && <DetailsSettings vm={vm} />}
      <Suspense fallback={<div className="muted pad">Loading…</div>}>
        {tab === 'performance' && <PerformanceView key={vm.id} vmId={vm.id} running={running} />}
        {tab === 'serial' &&
          (vm.config.serial.enabled ? (
            <SerialConsole key={vm.id} vmId={vm.id} running={running} />
          ) : (
            <div className="muted pad">This VM has no serial port (Settings, Serial Port).</div>
          ))}
      </Suspense>
    </div>
  );
}

function DetailsSettings({ vm }: { vm: VmSummary }) {
  const catalog = useLibrary((s) => s.catalog);
  if (!vm.accessible) {
    return (
      <div className="details" data-testid="details">
        <h2>{vm.name}</h2>
        <div className="inaccessible-reason" role="alert">
          <strong>Inaccessible.</strong> {vm.stateReason}
        </div>
        <Section
          title="Files"
          rows={[
            ['Folder', vm.folder],
            ['Config file', vm.configPath],
          ]}
        />
      </div>
    );
  }
  const c = vm.config;
  const os = catalog.find((e) => e.id === c.os.id)?.label ?? c.os.id;
  const boot =
    c.boot.source === 'firmware'
      ? c.boot.order
          .map((d) => ({ cdrom: 'Optical', disk: 'Hard Disk', network: 'Network' })[d])
          .join(', ')
      : `Linux kernel ${c.boot.kernel}`;
  return (
    <div className="details" data-testid="details">
      <h2>{c.name}</h2>
      <div className="details-state">
        <span className={`state-dot state-${vm.state}`} /> {STATE_LABELS[vm.state]}
        {vm.stateReason ? ` — ${vm.stateReason}` : ''}
      </div>
      <div className="details-grid">
        <Section
          title="General"
          rows={[
            ['Name', c.name],
            ['Operating System', os],
            ['Folder', vm.folder],
          ]}
        />
        <Section
          title="System"
          rows={[
            ['Base Memory', `${c.memoryMiB} MiB`],
            ['Processors', String(c.cpus)],
            [c.boot.source === 'firmware' ? 'Boot Order' : 'Boot', boot],
            ...(c.boot.source === 'firmware'
              ? [
                  [
                    'Boot Menu',
                    c.bootMenu.enabled ? `Shown, ${c.bootMenu.timeoutMs} ms` : 'Off',
                  ] as [string, string],
                ]
              : []),
          ]}
        />
        <Section title="Display" rows={[['Video Memory', `${c.display.vramMiB} MiB`]]} />
        <Section
          title="Storage"
          rows={[
            ...c.disks.map((d, i): [string, string] => [
              `Disk ${i} (${d.bus})`,
              `${d.path} — ${(d.sizeMiB / 1024).toFixed(1)} GiB ${d.format}, ${d.allocation}`,
            ]),
            ['Optical Drive', c.optical.iso ?? 'Empty'],
          ]}
        />
        <Section
          title="Network"
          rows={[
            [
              'Adapter 1',
              c.network.adapter === 'none'
                ? 'Not attached'
                : `${c.network.adapter} (${c.network.mac})`,
            ],
          ]}
        />
        <Section title="Serial Port" rows={[['COM1', c.serial.enabled ? 'Enabled' : 'Disabled']]} />
      </div>
    </div>
  );
}
