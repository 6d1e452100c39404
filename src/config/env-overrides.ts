// Distribution's environment overrides: REGISTRY_<SECTION>_<KEY>=value sets section.key. Pure:
// raw config + environment in, new raw config out. Keys match case-insensitively; values are
// parsed as YAML scalars, as Distribution does, so `true` and `5000` keep their types.
import { parse as parseYaml } from 'yaml';
import { STORAGE_SECTIONS } from './config-keys.js';

export type RawConfig = Record<string, unknown>;

const PREFIX = 'REGISTRY_';

/** A YAML mapping (not null, not a list). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseScalar(value: string): unknown {
  try {
    const parsed: unknown = parseYaml(value);
    return parsed === null ? value : parsed;
  } catch {
    return value;
  }
}

export function applyEnvOverrides(raw: RawConfig, env: NodeJS.ProcessEnv): RawConfig {
  const result = structuredClone(raw);
  const names = Object.keys(env).filter((k) => k.startsWith(PREFIX) && k.length > PREFIX.length).sort();
  for (const envName of names) {
    const value = env[envName]!;
    const segments = envName.slice(PREFIX.length).toLowerCase().split('_').filter(Boolean);
    if (segments.length === 0) continue;
    if (segments.length === 1 && segments[0] === 'storage') {
      // REGISTRY_STORAGE=<driver> picks the driver and drops the other driver sections.
      const storage = isObject(result.storage) ? result.storage : {};
      const kept = Object.fromEntries(Object.entries(storage).filter(([k]) => STORAGE_SECTIONS.has(k.toLowerCase()) || k.toLowerCase() === value.toLowerCase()));
      result.storage = { [value.toLowerCase()]: {}, ...kept };
      continue;
    }
    let node: Record<string, unknown> = result;
    for (let i = 0; i < segments.length; i++) {
      const wanted = segments[i]!;
      const key = Object.keys(node).find((k) => k.toLowerCase() === wanted) ?? wanted;
      if (i === segments.length - 1) {
        node[key] = parseScalar(value);
      } else {
        if (!isObject(node[key])) node[key] = {};
        node = node[key] as Record<string, unknown>;
      }
    }
  }
  return result;
}
