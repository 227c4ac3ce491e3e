/**
 * A host file picker built on the `files.list` call: browser mode has no native dialog that can
 * return a path on the Vireo host. Navigates folders; shows files with the wanted extensions.
 */
import { useEffect, useState } from 'react';
import type { CallValue } from '../../../../preload/contract';
import { call } from '../../lib/bridge';

export function FilePicker({
  extensions,
  onPick,
  onCancel,
}: {
  extensions: string[];
  onPick: (path: string) => void;
  onCancel: () => void;
}) {
  const [folder, setFolder] = useState<string | null>(null);
  const [listing, setListing] = useState<CallValue<'files.list'> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    call('files.list', { path: folder, extensions })
      .then((l) => live && (setListing(l), setError(null)))
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [folder, extensions]);
  return (
    <div className="modal-backdrop">
      <div
        className="modal picker"
        role="dialog"
        aria-label="Choose a file"
        data-testid="file-picker"
      >
        <h2>Choose a file</h2>
        <div className="picker-path">{listing?.path}</div>
        {error && <div className="field-error">{error}</div>}
        <ul className="picker-list">
          {listing?.parent && (
            <li>
              <button onClick={() => setFolder(listing.parent)}>↑ ..</button>
            </li>
          )}
          {listing?.entries.map((e) => (
            <li key={e.path}>
              <button
                onClick={() => (e.kind === 'directory' ? setFolder(e.path) : onPick(e.path))}
                data-testid={`pick-${e.name}`}
              >
                {e.kind === 'directory' ? '▸' : '◉'} {e.name}
                {e.kind === 'file' && (
                  <span className="muted"> {(e.sizeBytes / 1048576).toFixed(1)} MiB</span>
                )}
              </button>
            </li>
          ))}
        </ul>
        <div className="modal-buttons">
          <button onClick={onCancel}>Cancel</button>
        </div>
      </div>
    </div>
  );
}
