// Client options for a test backend (Swift all-in-one or Ceph RGW), the way storage.swift would
// give them: v1 auth as the seeds configure it, a container of the test's own, small segments.
import type { SwiftOptions } from '../../src/swift/swift-options.js';

export interface V1Backend {
  authUrl: string;
  username: string;
  password: string;
}

export function swiftOptions(backend: V1Backend, container: string, overrides: Partial<SwiftOptions> = {}): SwiftOptions {
  return {
    authUrl: backend.authUrl,
    username: backend.username,
    password: backend.password,
    container,
    endpointType: 'public',
    insecureSkipVerify: false,
    prefix: '',
    chunkSize: 1024 * 1024,
    tempUrlContainerKey: false,
    tempUrlMethods: [],
    maxSockets: 32,
    ...overrides,
  };
}
