// Maps what the layers below throw onto the spec's error table. Anything unexpected is UNKNOWN
// (500), a transient backend failure UNAVAILABLE (503); the detail never leaks internals.
import { RegistryError } from './errors.js';
import { BlobUnknownError, BodySizeError, ContentBeingCollectedError, DigestMismatchError, UploadOffsetError, UploadUnknownError } from '../storage/store-errors.js';
import { DriverError, InvalidPathError, StorageDriverError } from '../storage/driver.js';
import { uploadRange } from './handlers/uploads.js';

export function toRegistryError(err: unknown, params: Record<string, string>): RegistryError {
  if (err instanceof RegistryError) return err;
  if (err instanceof BlobUnknownError) return new RegistryError('BLOB_UNKNOWN', { digest: err.digest });
  if (err instanceof UploadUnknownError) return new RegistryError('BLOB_UPLOAD_UNKNOWN', { uuid: err.id });
  if (err instanceof DigestMismatchError) {
    return new RegistryError('DIGEST_INVALID', { expected: err.expected, actual: err.actual });
  }
  if (err instanceof UploadOffsetError) {
    const headers: Record<string, string> = { Range: uploadRange(err.expected) };
    if (params.name && params.uuid) {
      headers.Location = `/v2/${params.name}/blobs/uploads/${params.uuid}`;
      headers['Docker-Upload-UUID'] = params.uuid;
    }
    return new RegistryError('RANGE_INVALID', { expectedStart: err.expected, givenStart: err.given }, {
      message: 'chunk does not start where the upload ends',
      headers,
    });
  }
  if (err instanceof BodySizeError) {
    return new RegistryError('SIZE_INVALID', { reason: err.message }, err.tooLarge ? { status: 413, message: err.message } : { message: err.message });
  }
  if (err instanceof ContentBeingCollectedError) {
    return new RegistryError('UNAVAILABLE', { digest: err.digest }, { message: 'content is being garbage collected; try again', headers: { 'Retry-After': '5' } });
  }
  if (err instanceof InvalidPathError) return new RegistryError('NAME_INVALID', undefined, { cause: err });
  if (err instanceof DriverError && err.transient) {
    return new RegistryError('UNAVAILABLE', undefined, { message: 'storage backend temporarily unavailable', cause: err });
  }
  if (err instanceof StorageDriverError) return new RegistryError('UNKNOWN', undefined, { message: 'storage error', cause: err });
  return new RegistryError('UNKNOWN', undefined, { cause: err });
}
