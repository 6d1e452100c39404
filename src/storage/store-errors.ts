// What the registry-semantics layer reports to the layer above; the registry maps these onto the
// spec's error codes. Driver errors other than "path not found" pass through unchanged.

export class BlobUnknownError extends Error {
  constructor(readonly digest: string) {
    super(`blob unknown: ${digest}`);
    this.name = 'BlobUnknownError';
  }
}

export class UploadUnknownError extends Error {
  constructor(readonly id: string) {
    super(`upload unknown: ${id}`);
    this.name = 'UploadUnknownError';
  }
}

export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`digest mismatch: expected ${expected}, content is ${actual}`);
    this.name = 'DigestMismatchError';
  }
}

/** A chunk that does not start where the upload currently ends. */
export class UploadOffsetError extends Error {
  constructor(
    readonly expected: number,
    readonly given: number,
  ) {
    super(`chunk starts at ${given}, upload is at ${expected}`);
    this.name = 'UploadOffsetError';
  }
}

/** The body ended before the bytes it announced, or ran past a limit. */
export class BodySizeError extends Error {
  constructor(
    message: string,
    readonly tooLarge: boolean,
  ) {
    super(message);
    this.name = 'BodySizeError';
  }
}

/** A garbage collection pass held the content longer than a claim waits: the client should retry. */
export class ContentBeingCollectedError extends Error {
  constructor(readonly digest: string) {
    super(`garbage collection of ${digest} did not finish in time`);
    this.name = 'ContentBeingCollectedError';
  }
}
