// `regate serve [--config FILE]` (a positional config path is accepted too, as `registry serve FILE`).
//
// Two options exist for deployments that wrap regate (the container image):
//   --drain-default D   http.draintimeout when neither the file nor REGISTRY_HTTP_DRAINTIMEOUT sets
//                       one (`docker stop` kills after 10 s, so the image drains for 8 s by default)
//   --ready-file F      once listening, F holds the URL `regate health` checks (the image's
//                       HEALTHCHECK); removed on shutdown
import type { Command } from 'commander';
import { rmSync, writeFileSync } from 'node:fs';
import { loadConfig, ConfigError } from '../config/load-config.js';
import { createLogger } from '../log/logger.js';
import { FileAccessError, startServer, TlsSetupError } from '../gateway/server.js';
import { healthUrl } from './health-command.js';
import { UnsupportedDriverError } from '../storage/factory.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the registry (embedded defaults when no config file is given)')
    .argument('[config]', 'a Distribution config.yml')
    .option('-c, --config <file>', 'a Distribution config.yml')
    .option('--drain-default <duration>', 'http.draintimeout when the configuration sets none')
    .option('--ready-file <file>', 'write the URL `regate health` checks to this file once listening')
    .action(async (positional: string | undefined, options: { config?: string; drainDefault?: string; readyFile?: string }) => {
      const file = options.config ?? positional;
      let config;
      try {
        config = loadConfig(file, process.env, options.drainDefault ? { defaults: { http: { draintimeout: options.drainDefault } } } : {});
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`regate: invalid configuration: ${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
      const logger = createLogger(config.log);
      for (const warning of config.warnings) logger.warn(warning, { config: config.source });
      // systemctl reload: the files regate watches anyway, looked at now. Installed before the
      // (slow) start, whose default action for SIGHUP would end the process.
      let reload: (() => Promise<void>) | undefined;
      process.on('SIGHUP', () => {
        if (!reload) return void logger.info('received SIGHUP while starting: the files are read as the start goes on');
        logger.info('received SIGHUP: re-reading the users, groups and TLS files');
        void reload();
      });
      let running;
      try {
        running = await startServer(config, logger);
      } catch (err) {
        if (err instanceof UnsupportedDriverError || err instanceof TlsSetupError || err instanceof FileAccessError) {
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
      reload = running.reload;
      const readyFile = options.readyFile;
      if (readyFile) {
        try {
          writeFileSync(readyFile, `${healthUrl(running.url, config)}\n`);
        } catch (err) {
          // A read-only root without a writable /tmp: serving matters more than the health check.
          logger.warn(`cannot write the ready file ${readyFile} (regate health will report not ready): ${(err as Error).message}`);
        }
      }
      const stop = (signal: string): void => {
        logger.info(`received ${signal}, shutting down${config.http.drainTimeoutMs > 0 ? ` (requests in flight get ${config.http.drainTimeoutMs / 1000} s to finish)` : ''}`);
        if (readyFile) rmSync(readyFile, { force: true });
        void running.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
