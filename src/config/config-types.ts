// The configuration regate runs with: Distribution's config.yml shape (the keys the product reads),
// plus regate's own keys in one extra section, `regate:`.

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormatter = 'text' | 'json' | 'logstash';
export type StorageDriverName = 'filesystem' | 'inmemory' | 'swift';

export interface StorageConfig {
  driver: StorageDriverName;
  /** The driver's own section (e.g. `filesystem: {rootdirectory}`), as written. */
  parameters: Record<string, unknown>;
  deleteEnabled: boolean;
  /** Sections Distribution knows and regate accepts as written: cache, maintenance, redirect. */
  extra: Record<string, unknown>;
}

export interface HttpConfig {
  addr: string;
  host: string;
  port: number;
  secret?: string;
  headers: Record<string, string[]>;
  tls?: { certificate: string; key: string; minimumtls?: string };
}

export interface RegateConfig {
  version: string;
  log: { level: LogLevel; formatter: LogFormatter; fields: Record<string, unknown> };
  storage: StorageConfig;
  http: HttpConfig;
  auth?: { htpasswd?: { realm: string; path: string } };
  health?: Record<string, unknown>;
  regate: {
    /** Largest manifest accepted, bytes. */
    manifestMaxBytes: number;
    /** Largest blob accepted, bytes; 0 = unlimited. */
    blobMaxBytes: number;
  };
  /** Where the configuration came from, for messages. */
  source: string;
  /** Non-fatal findings (unknown keys, …) to log once the logger exists. */
  warnings: string[];
}
