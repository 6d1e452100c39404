// `regate serve [--config FILE]` (a positional config path is accepted too, as `registry serve FILE`).
import type { Command } from 'commander';
import { loadConfig, ConfigError } from '../config/load-config.js';
import { createLogger } from '../log/logger.js';
import { startServer, TlsSetupError } from '../gateway/server.js';
import { UnsupportedDriverError } from '../storage/factory.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the registry (embedded defaults when no config file is given)')
    .argument('[config]', 'a Distribution config.yml')
    .option('-c, --config <file>', 'a Distribution config.yml')
    .action(async (positional: string | undefined, options: { config?: string }) => {
      const file = options.config ?? positional;
      let config;
      try {
        config = loadConfig(file);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`regate: invalid configuration: ${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
      const logger = createLogger(config.log);
      for (const warning of config.warnings) logger.warn(warning, { config: config.source });
      let running;
      try {
        running = await startServer(config, logger);
      } catch (err) {
        if (err instanceof UnsupportedDriverError || err instanceof TlsSetupError) {
          logger.error(err.message);
          process.exit(2);
        }
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'EPERM') {
          logger.error(`cannot start: ${(err as Error).message}`);
          process.exit(2);
        }
        throw err;
      }
      if (running.debug) {
        const debug = config.http.debug!;
        logger.info(`debug listener on ${running.debug.url} (/debug/health${debug.prometheus.enabled ? `, Prometheus metrics at ${debug.prometheus.path}` : ''})`, {
          url: running.debug.url,
          addr: debug.addr,
        });
      }
      logger.info(`listening on ${running.url}`, {
        url: running.url,
        addr: config.http.addr,
        tls: config.regate.tls.mode,
        auth: config.auth?.htpasswd ? 'htpasswd' : 'none',
        ...(config.upstream ? { upstream: config.upstream.url } : { storage: config.storage!.driver }),
      });
      const stop = (signal: string): void => {
        logger.info(`received ${signal}, shutting down`);
        void running.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
