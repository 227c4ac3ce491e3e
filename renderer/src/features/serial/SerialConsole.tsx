/**
 * The serial console tab (COM1) of a VM: an xterm.js terminal showing what the guest writes to
 * its first serial port, and sending what the user types to it, like virt-manager's "Serial 1"
 * text console. The scrollback the VM host process kept while no terminal was open comes first
 * (`vm.serialScrollback`), then live output (`vm.serial` events).
 */
import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { bridge, call } from '../../lib/bridge';
import { base64ToBytes, bytesToBase64 } from './base64';

export function SerialConsole({ vmId, running }: { vmId: string; running: boolean }) {
  const host = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!host.current) return;
    const term = new Terminal({
      convertEol: false,
      scrollback: 5000,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace',
      fontSize: 13,
      theme: { background: '#111316' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current);
    fit.fit();
    const resize = new ResizeObserver(() => fit.fit());
    resize.observe(host.current);
    let alive = true;
    // Output that arrives before the scrollback does waits, so the order stays the guest's.
    let early: Uint8Array[] | null = [];
    const off = bridge.on('vm.serial', ({ id, data }) => {
      if (id !== vmId) return;
      const bytes = base64ToBytes(data);
      if (early) early.push(bytes);
      else term.write(bytes);
    });
    call('vm.serialScrollback', { id: vmId })
      .then((r) => {
        if (!alive) return;
        term.write(base64ToBytes(r.data));
        for (const b of early ?? []) term.write(b);
        early = null;
      })
      .catch((e: Error) => alive && setError(e.message));
    const input = term.onData((text) => {
      const bytes = new TextEncoder().encode(text);
      call('vm.serialInput', { id: vmId, data: bytesToBase64(bytes) }).catch((e: Error) =>
        setError(e.message),
      );
    });
    (window as { __vireoSerial?: Terminal }).__vireoSerial = term;
    return () => {
      alive = false;
      off();
      input.dispose();
      resize.disconnect();
      term.dispose();
    };
  }, [vmId]);

  return (
    <div className="serial-console" data-testid="serial-console">
      {error && <div className="field-error">{error}</div>}
      {!running && (
        <div className="muted serial-note">
          The VM is not running: this is what it last wrote to COM1.
        </div>
      )}
      <div className="serial-terminal" ref={host} data-testid="serial-terminal" />
    </div>
  );
}
