// The shared driver suite against a real Ceph RGW (Swift API, v1 auth as the seeds use it), one
// fresh container per driver, 1 MiB segments.
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import { startCephRgw, type CephRgw } from '../support/ceph-rgw.js';
import { swiftOptions } from '../support/swift-options.js';
import { runDriverSuite } from './driver-suite.js';
import { runUnnamedSweepTests } from './unnamed-sweep-suite.js';

let rgw: CephRgw;
before(async () => {
  rgw = await startCephRgw();
});
after(async () => {
  await rgw?.stop();
});

runDriverSuite('swift (Ceph RGW)', async () => {
  const driver = new SwiftDriver(swiftOptions(rgw, `suite-${randomBytes(4).toString('hex')}`));
  return { driver, cleanup: async () => driver.close() };
});

runUnnamedSweepTests('Ceph RGW', () => new SwiftDriver(swiftOptions(rgw, `unnamed-${randomBytes(3).toString('hex')}`)));
