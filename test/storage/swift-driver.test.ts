// The shared driver suite against a real OpenStack Swift (the harness's all-in-one), one fresh
// container per driver, 1 MiB segments so large-object paths (segments, appends across writers,
// moves of manifests) are exercised by the suite's multi-MiB files.
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { swiftOptions } from '../support/swift-options.js';
import { runDriverSuite } from './driver-suite.js';

let swift: SwiftAio;
before(async () => {
  swift = await startSwiftAio();
});
after(async () => {
  await swift?.stop();
});

runDriverSuite('swift (OpenStack Swift, tempauth)', async () => {
  const driver = new SwiftDriver(swiftOptions(swift, `suite-${randomBytes(4).toString('hex')}`));
  return { driver, cleanup: async () => driver.close() };
});
