/**
 * An ISO dragged from the desktop onto a Vireo window. In Electron the preload gives the file's
 * path (`window.vireoFiles.pathForFile`, webUtils.getPathForFile). In browser mode the page has
 * no path on the server, so the file is uploaded into the library's media folder
 * (`POST /media`, main/serve/media-upload.ts) with progress, and the server's path is used.
 * Anything that is not one `.iso` file is refused with a sentence, before anything changes.
 */

declare global {
  interface Window {
    /** Electron only (preload/index.ts). */
    vireoFiles?: { pathForFile(file: File): string };
  }
}

export class DropRefused extends Error {}

/** Whether a drag carries files at all (drag-over feedback; names are unknown until drop). */
export function dragHasFiles(e: { dataTransfer: DataTransfer | null }): boolean {
  return e.dataTransfer?.types.includes('Files') ?? false;
}

/** The one ISO of a drop, or a DropRefused saying why not. */
export function droppedIso(files: FileList | readonly File[]): File {
  const list = Array.from(files);
  if (list.length === 0) throw new DropRefused('Nothing to drop: drag an ISO image file.');
  if (list.length > 1) throw new DropRefused('Drop one ISO image at a time.');
  const file = list[0]!;
  if (!/\.iso$/i.test(file.name))
    throw new DropRefused(`${file.name} is not an ISO image: only .iso files can be dropped here.`);
  return file;
}

export interface UploadProgress {
  name: string;
  sent: number;
  total: number;
}

/**
 * The host path of a dropped ISO: Electron's own, or the uploaded copy's. Rejects with the
 * server's sentence when the upload is refused (too large, not ISO 9660, no space).
 */
export function isoPathFor(file: File, onProgress: (p: UploadProgress) => void): Promise<string> {
  if (window.vireoFiles) return Promise.resolve(window.vireoFiles.pathForFile(file));
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `./media?name=${encodeURIComponent(file.name)}`);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => onProgress({ name: file.name, sent: e.loaded, total: e.total });
    xhr.onload = () => {
      const body = xhr.response as { path?: string; error?: string } | null;
      if (xhr.status === 201 && body?.path) resolve(body.path);
      else reject(new DropRefused(body?.error ?? `The upload failed (HTTP ${xhr.status}).`));
    };
    xhr.onerror = () => reject(new DropRefused(`The upload of ${file.name} failed.`));
    xhr.send(file);
  });
}
