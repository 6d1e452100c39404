// The in-memory blob descriptor cache: an answer storage gave before a concurrent invalidation is
// not remembered after it (a blob HEAD racing a DELETE must not bring the deleted entry back).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryBlobDescriptorCache } from '../../src/storage/blob-descriptor-cache.js';

const digest = (n: number) => ({ algorithm: 'sha256', encoded: n.toString(16).padStart(64, '0') });

describe('in-memory blob descriptor cache', () => {
  it('remembers what storage said when nothing was invalidated meanwhile', async () => {
    const cache = new InMemoryBlobDescriptorCache(10);
    await cache.remember('a/b', digest(1), 42, cache.now());
    assert.equal(await cache.linked('a/b', digest(1)), true);
    assert.equal(await cache.size(digest(1)), 42);
  });

  it('drops a remember whose lookup began before an invalidation', async () => {
    const cache = new InMemoryBlobDescriptorCache(10);
    const since = cache.now(); // a HEAD starts asking storage
    await cache.forgetLink('a/b', digest(2)); // a DELETE removes the link and invalidates
    await cache.remember('a/b', digest(2), 7, since); // the HEAD's answer arrives late
    assert.equal(await cache.linked('a/b', digest(2)), undefined);
    const again = cache.now();
    await cache.forget(digest(3));
    await cache.remember('a/b', digest(2), 7, again);
    assert.equal(await cache.size(digest(2)), undefined);
  });
});
