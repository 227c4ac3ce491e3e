/**
 * The errors the storage layer throws. Each message names the file and says what the user can do,
 * because it reaches the VM list and the CLI unchanged.
 *
 * Runtime: engine (device thread) and control plane (image creation, `vireo` disk verbs).
 */

/**
 * The file is not an image Vireo can open as asked: wrong magic, a header that contradicts
 * itself, a table that points outside the file, or a feature Vireo does not support
 * (encryption, external data files, unknown incompatible features). Raised at open, and by
 * reads or writes that meet corrupt metadata; never for a guest's own mistakes.
 */
export class ImageFormatError extends Error {
  override readonly name = 'ImageFormatError';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/**
 * A request the image cannot serve as given: offset or length not a multiple of 512, a range
 * beyond the end of the disk, a write to an image opened read-only, a shrink. A device model
 * turns this into an I/O error status for the guest.
 */
export class ImageRequestError extends Error {
  override readonly name = 'ImageRequestError';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** `createImage` refuses to replace an existing file: a disk may hold the only copy of a VM. */
export class ImageExistsError extends Error {
  override readonly name = 'ImageExistsError';
  constructor(readonly path: string) {
    super(`${path}: a file already exists there; choose another name or delete it first`);
  }
}
