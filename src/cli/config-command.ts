// `regate config check FILE`: validates a config.yml the way `regate serve` would, without
// contacting any backend. Prints the effective config with secrets masked on stdout and the
// notices on stderr; files the config names that do not exist on this machine are warnings (the
// config may be meant for another one). Exit 0 when regate would start with it, 1 with the
// offending key's path otherwise.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { stringify as stringifyYaml } from 'yaml';
import type { RegateConfig } from '../config/config-types.js';
import { ConfigError, loadConfig } from '../config/load-config.js';

const SECRET_KEYS = /^(password|secret|secretkey|authtoken|applicationcredentialsecret)$/i;

/** A deep copy with every secret value replaced by "***". */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, SECRET_KEYS.test(k) && v !== undefined && v !== '' ? '***' : maskSecrets(v)]),
  );
}

/** Notification endpoints' headers usually carry the receiver's credentials: every value masked. */
export function maskEndpointHeaders<T extends Partial<Pick<RegateConfig, 'notifications'>>>(config: T): T {
  if (!config.notifications) return config;
  const endpoints = config.notifications.endpoints.map((e) => ({ ...e, headers: Object.fromEntries(Object.keys(e.headers).map((name) => [name, ['***']])) }));
  return { ...config, notifications: { ...config.notifications, endpoints } };
}

/** Files and directories the config names that are not on this machine. */
export function missingFiles(config: RegateConfig): string[] {
  const missing: string[] = [];
  const check = (what: string, path: string | undefined, then = ''): void => {
    if (path !== undefined && !existsSync(path)) missing.push(`${what} ${path} does not exist on this machine${then}`);
  };
  check('http.tls.certificate', config.http.tls?.certificate);
  check('http.tls.key', config.http.tls?.key);
  check('auth.htpasswd.path', config.auth?.htpasswd?.path, ' (regate would create it, with one user and a printed password)');
  if (config.storage?.driver === 'filesystem') check('storage.filesystem.rootdirectory', config.storage.parameters.rootdirectory as string, ' (regate would create it)');
  return missing;
}

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('validate a config.yml without contacting any backend; print the effective config, secrets masked')
    .argument('<file>', 'the config.yml')
    .action((file: string) => {
      let loaded: RegateConfig;
      try {
        loaded = loadConfig(file);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`regate config check: ${err.message}\n`);
          process.exit(1);
        }
        throw err;
      }
      for (const warning of [...loaded.warnings, ...missingFiles(loaded)]) process.stderr.write(`notice: ${warning}\n`);
      const { warnings: _warnings, source: _source, ...effective } = loaded;
      process.stdout.write(stringifyYaml(maskSecrets(maskEndpointHeaders(effective))));
      process.stderr.write(`${file}: regate would start with this configuration\n`);
    });
}
