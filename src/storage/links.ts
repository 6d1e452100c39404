// Link files: small objects holding "<alg>:<hex>", Distribution's way of saying "this repository
// has that content". A link whose content does not parse or does not match is treated as absent.
import type { GetOptions, StorageDriver } from './driver.js';
import { PathNotFoundError } from './driver.js';
import { linkContent, type DigestParts } from './paths.js';

const LINK_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-f0-9]+)$/;

export function parseLink(content: Buffer): DigestParts | undefined {
  const m = LINK_RE.exec(content.toString('utf8').trim());
  return m ? { algorithm: m[1]!, encoded: m[2]! } : undefined;
}

export async function readLink(driver: StorageDriver, path: string, options?: GetOptions): Promise<DigestParts | undefined> {
  try {
    return parseLink(await driver.getContent(path, options));
  } catch (err) {
    if (err instanceof PathNotFoundError) return undefined;
    throw err;
  }
}

export async function writeLink(driver: StorageDriver, path: string, digest: DigestParts): Promise<void> {
  await driver.putContent(path, linkContent(digest));
}

export async function hasLinkTo(driver: StorageDriver, path: string, digest: DigestParts, options?: GetOptions): Promise<boolean> {
  const found = await readLink(driver, path, options);
  return found !== undefined && found.algorithm === digest.algorithm && found.encoded === digest.encoded;
}

export async function unlessMissing<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof PathNotFoundError) return undefined;
    throw err;
  }
}

export const digestString = (d: DigestParts): string => `${d.algorithm}:${d.encoded}`;
