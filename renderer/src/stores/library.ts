/**
 * The library store: VMs, selection, host facts, OS catalog, and the error banner. Filled by
 * `vm.list` once and kept current by `vm.changed` / `vm.removed` events.
 */
import { create } from 'zustand';
import type { HostInfo, OsCatalogEntry, VmSummary } from '../../../preload/contract';
import { bridge, call, CallFailed } from '../lib/bridge';

interface LibraryState {
  vms: VmSummary[];
  loaded: boolean;
  selectedId: string | null;
  host: HostInfo | null;
  catalog: OsCatalogEntry[];
  error: string | null;
  select: (id: string | null) => void;
  showError: (e: unknown) => void;
  dismissError: () => void;
  load: () => Promise<void>;
}

const byName = (a: VmSummary, b: VmSummary): number => nameOf(a).localeCompare(nameOf(b));
export const nameOf = (vm: VmSummary): string => (vm.accessible ? vm.config.name : vm.name);

export const useLibrary = create<LibraryState>((set, get) => ({
  vms: [],
  loaded: false,
  selectedId: null,
  host: null,
  catalog: [],
  error: null,
  select: (id) => set({ selectedId: id }),
  showError: (e) =>
    set({ error: e instanceof CallFailed || e instanceof Error ? e.message : String(e) }),
  dismissError: () => set({ error: null }),
  async load() {
    try {
      const [vms, host, catalog] = await Promise.all([
        call('vm.list', {}),
        call('host.info', {}),
        call('os.catalog', {}),
      ]);
      set({
        vms: vms.sort(byName),
        host,
        catalog,
        loaded: true,
        selectedId: get().selectedId ?? vms[0]?.id ?? null,
      });
    } catch (e) {
      get().showError(e);
    }
  },
}));

bridge.on('vm.changed', ({ vm }) => {
  const vms = useLibrary.getState().vms.filter((v) => v.id !== vm.id);
  useLibrary.setState({ vms: [...vms, vm].sort(byName) });
});
bridge.on('vm.removed', ({ id }) => {
  const { vms, selectedId } = useLibrary.getState();
  const rest = vms.filter((v) => v.id !== id);
  useLibrary.setState({
    vms: rest,
    selectedId: selectedId === id ? (rest[0]?.id ?? null) : selectedId,
  });
});
