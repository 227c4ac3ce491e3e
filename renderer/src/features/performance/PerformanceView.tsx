/**
 * Live charts of a running VM (the details pane's Performance tab), like VirtualBox's VM
 * Activity overview: CPU per vCPU and total, memory, disk IOPS and throughput, exits by kind,
 * with the current figures above them (CPU %, memory, IOPS, latency, throughput, uptime).
 *
 * Samples are taken at 1 Hz by the VM host (main/engine/host/stats.ts) and kept by the
 * supervisor for 15 minutes whether or not this view is open; opening it fetches that window
 * (`vm.stats`) and then appends each `vm.stats` event.
 */
import { useEffect, useState } from 'react';
import {
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { STATS_WINDOW_SAMPLES, type VmStatsSample } from '../../../../preload/contract';
import { bridge, call } from '../../lib/bridge';
import { formatUptime, latestFigures, toChartRows } from './figures';

const COLOURS = ['#2f6fd6', '#d6612f', '#2fa36b', '#8a4fd6', '#c6a02a', '#d62f7a', '#2fb8c6'];

function Chart({
  title,
  unit,
  rows,
  lines,
  testId,
}: {
  title: string;
  unit: string;
  rows: Record<string, number>[];
  lines: { key: string; label: string }[];
  testId: string;
}) {
  return (
    <section className="chart" data-testid={testId}>
      <h3>
        {title} <span className="muted">({unit})</span>
      </h3>
      <div className="chart-body">
        <ResponsiveContainer width="100%" height={150}>
          <LineChart data={rows} margin={{ top: 4, right: 12, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e3e6ea" />
            <XAxis
              dataKey="t"
              type="number"
              domain={['dataMin', 'dataMax']}
              tickFormatter={(v: number) => `${Math.round(v)}s`}
              fontSize={11}
            />
            <YAxis width={44} fontSize={11} allowDecimals={false} />
            <Tooltip labelFormatter={(v) => `${Math.round(-Number(v))} s ago`} />
            <Legend wrapperStyle={{ fontSize: 11 }} />
            {lines.map((l, i) => (
              <Line
                key={l.key}
                dataKey={l.key}
                name={l.label}
                stroke={COLOURS[i % COLOURS.length]}
                dot={false}
                isAnimationActive={false}
                strokeWidth={1.6}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
    </section>
  );
}

export function PerformanceView({ vmId, running }: { vmId: string; running: boolean }) {
  const [samples, setSamples] = useState<VmStatsSample[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    call('vm.stats', { id: vmId })
      .then((r) => alive && setSamples(r.samples))
      .catch((e: Error) => alive && setError(e.message));
    const off = bridge.on('vm.stats', ({ id, sample }) => {
      if (id !== vmId) return;
      setSamples((s) => [...s.slice(-(STATS_WINDOW_SAMPLES - 1)), sample]);
    });
    return () => {
      alive = false;
      off();
    };
  }, [vmId, running]);

  if (error) return <div className="field-error">{error}</div>;
  if (samples.length === 0)
    return (
      <div className="muted pad" data-testid="performance-empty">
        {running
          ? 'Waiting for the first sample…'
          : 'Start the VM to see its CPU, memory, disk and exit activity here.'}
      </div>
    );
  const f = latestFigures(samples);
  const rows = toChartRows(samples);
  const vcpus = samples.at(-1)!.vcpuPercent.length;
  return (
    <div className="performance" data-testid="performance">
      <div className="figures" data-testid="performance-figures">
        <Figure label="Uptime" value={formatUptime(f.uptimeSeconds)} testId="figure-uptime" />
        <Figure label="CPU" value={`${f.cpuPercent.toFixed(1)} %`} testId="figure-cpu" />
        <Figure
          label="Memory"
          value={`${f.residentMiB.toFixed(0)} / ${f.guestMiB.toFixed(0)} MiB`}
          testId="figure-memory"
        />
        <Figure
          label="Disk IOPS"
          value={`${f.readIops.toFixed(0)} r / ${f.writeIops.toFixed(0)} w`}
          testId="figure-iops"
        />
        <Figure
          label="Disk throughput"
          value={`${f.readMiBps.toFixed(2)} r / ${f.writeMiBps.toFixed(2)} w MiB/s`}
          testId="figure-throughput"
        />
        <Figure
          label="Disk latency"
          value={`${f.latencyMeanMs.toFixed(2)} ms mean, ${f.latencyP99Ms.toFixed(2)} ms p99`}
          testId="figure-latency"
        />
        <Figure label="Exits" value={`${f.exitsPerSecond.toFixed(0)} /s`} testId="figure-exits" />
      </div>
      <div className="charts">
        <Chart
          title="CPU"
          unit="% of one host core"
          rows={rows}
          testId="chart-cpu"
          lines={[
            { key: 'cpu', label: 'Total' },
            ...Array.from({ length: vcpus }, (_, i) => ({ key: `vcpu${i}`, label: `vCPU ${i}` })),
          ]}
        />
        <Chart
          title="Memory"
          unit="MiB"
          rows={rows}
          testId="chart-memory"
          lines={[
            { key: 'guestMiB', label: 'Guest RAM' },
            { key: 'residentMiB', label: 'Resident' },
          ]}
        />
        <Chart
          title="Disk I/O"
          unit="operations/s"
          rows={rows}
          testId="chart-disk"
          lines={[
            { key: 'readIops', label: 'Reads' },
            { key: 'writeIops', label: 'Writes' },
          ]}
        />
        <Chart
          title="Disk throughput"
          unit="MiB/s"
          rows={rows}
          testId="chart-throughput"
          lines={[
            { key: 'readMiBps', label: 'Read' },
            { key: 'writeMiBps', label: 'Write' },
          ]}
        />
        <Chart
          title="VM exits"
          unit="per second"
          rows={rows}
          testId="chart-exits"
          lines={[
            { key: 'io', label: 'Port I/O' },
            { key: 'mmio', label: 'MMIO' },
            { key: 'other', label: 'Other' },
          ]}
        />
      </div>
    </div>
  );
}

function Figure({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className="figure">
      <div className="figure-label">{label}</div>
      <div className="figure-value" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}
