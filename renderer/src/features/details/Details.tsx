/** The details pane: the selected VM's settings grouped like VirtualBox's, live from events. */
import type { VmSummary } from '../../../../preload/contract';
import { useLibrary } from '../../stores/library';
import { STATE_LABELS } from '../vm-list/VmList';

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

export function Details({ vm }: { vm: VmSummary }) {
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
