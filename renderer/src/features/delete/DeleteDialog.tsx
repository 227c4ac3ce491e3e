/** Delete confirmation that lists exactly which files go (from `vm.deletePlan`). */
import { useEffect, useState } from 'react';
import type { VmSummary } from '../../../../preload/contract';
import { call } from '../../lib/bridge';
import { nameOf } from '../../stores/library';

export function DeleteDialog({ vm, onClose }: { vm: VmSummary; onClose: () => void }) {
  const [files, setFiles] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call('vm.deletePlan', { id: vm.id })
      .then((p) => setFiles(p.files))
      .catch((e: Error) => setError(e.message));
  }, [vm.id]);
  const remove = async (deleteFiles: boolean) => {
    try {
      await call('vm.delete', { id: vm.id, deleteFiles });
      onClose();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div className="modal-backdrop">
      <div
        className="modal"
        role="alertdialog"
        aria-label="Delete virtual machine"
        data-testid="delete-dialog"
      >
        <h2>Delete “{nameOf(vm)}”?</h2>
        <p>“Delete all files” removes these files from disk:</p>
        <ul className="file-list" data-testid="delete-files">
          {files?.map((f) => (
            <li key={f}>{f}</li>
          ))}
        </ul>
        <p className="muted">
          “Remove only” takes the VM out of the library and keeps its folder {vm.folder}.
        </p>
        {error && (
          <div className="field-error" role="alert">
            {error}
          </div>
        )}
        <div className="modal-buttons">
          <button onClick={onClose}>Cancel</button>
          <button onClick={() => void remove(false)} data-testid="delete-keep">
            Remove only
          </button>
          <button className="danger" onClick={() => void remove(true)} data-testid="delete-all">
            Delete all files
          </button>
        </div>
      </div>
    </div>
  );
}
