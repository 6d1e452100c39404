// Builds the configured driver, always behind the base wrapper.
import type { StorageConfig } from '../config/config-types.js';
import type { StorageDriver } from './driver.js';
import { wrapDriver } from './base-driver.js';
import { FilesystemDriver } from './drivers/filesystem.js';
import { InMemoryDriver } from './drivers/inmemory.js';
import { SwiftDriver } from './drivers/swift.js';

export class UnsupportedDriverError extends Error {}

export function createDriver(storage: StorageConfig): StorageDriver {
  switch (storage.driver) {
    case 'filesystem':
      return wrapDriver(new FilesystemDriver(storage.parameters.rootdirectory as string));
    case 'inmemory':
      return wrapDriver(new InMemoryDriver());
    case 'swift':
      if (!storage.swift) throw new UnsupportedDriverError('storage.swift: the section was not validated');
      return wrapDriver(new SwiftDriver(storage.swift));
  }
}
