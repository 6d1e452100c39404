// Certificates renewed under a running server (ACME, an internal PKI): http.tls.certificate and
// key are watched, and a changed pair is served to new connections within seconds, without a
// restart; connections already open keep the certificate they shook hands with.
//
// Renewal tools write the two files one after the other, so a change is loaded only once both
// have held still for SETTLE_MS, and only as a pair that parses and belongs together: a new
// certificate with the old key (caught between the two writes) or a broken file keeps the pair in
// service and is logged once, and the next change is tried again. Polling (as for the users
// file's backstop) rather than watching: the files are often symlinks that certbot swaps.
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../log/logger.js';
import { loadCertificateFiles } from './tls.js';
import { fingerprintOf } from '../auth/live-file.js';

const POLL_MS = 1000;
const SETTLE_MS = 200;

export interface CertificatePair {
  certPem: string;
  keyPem: string;
}

async function fingerprint(path: string): Promise<string> {
  try {
    return fingerprintOf(await stat(path)); // stat follows symlinks: a swapped link target is a change
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? ''}`;
  }
}

export class CertificateReloader {
  private current: string | undefined;
  private candidate: { fingerprint: string; since: number } | undefined;
  private refused: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly files: { certificate: string; key: string },
    private readonly apply: (pair: CertificatePair) => void,
    private readonly logger: Logger,
    private readonly pollMs: number = POLL_MS,
  ) {}

  /**
   * Remembers the files' state as the pair in service, then polls. Files that changed since the
   * pair was read at start (a renewal in between) are loaded at the first look.
   */
  async start(inService: CertificatePair): Promise<void> {
    const now = await this.fingerprints();
    const [certPem, keyPem] = await Promise.all([readFile(this.files.certificate, 'utf8'), readFile(this.files.key, 'utf8')]).catch(() => ['', '']);
    this.current = certPem === inService.certPem && keyPem === inService.keyPem ? now : undefined;
    this.timer = setInterval(() => void this.check(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Looks now (SIGHUP), waiting for a change to settle; resolves once it is applied or refused. */
  async checkNow(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      await this.check();
      if (!this.candidate) return;
      await new Promise((r) => setTimeout(r, SETTLE_MS / 2));
    }
  }

  private check(): Promise<void> {
    this.running ??= this.look().finally(() => (this.running = undefined));
    return this.running;
  }

  private async fingerprints(): Promise<string> {
    return `${await fingerprint(this.files.certificate)}|${await fingerprint(this.files.key)}`;
  }

  private async look(): Promise<void> {
    const now = await this.fingerprints();
    if (now === this.current || now === this.refused) {
      this.candidate = undefined;
      return;
    }
    if (this.candidate?.fingerprint !== now) {
      this.candidate = { fingerprint: now, since: Date.now() };
      return;
    }
    if (Date.now() - this.candidate.since < SETTLE_MS) return;
    this.candidate = undefined;
    try {
      const pair = await loadCertificateFiles(this.files, this.logger);
      if ((await this.fingerprints()) !== now) return; // written again while read: the next look
      this.apply(pair);
      this.current = now;
      this.refused = undefined;
      this.logger.info(`TLS: serving the renewed certificate ${this.files.certificate} to new connections`, { path: this.files.certificate });
    } catch (err) {
      this.refused = now;
      this.logger.error(`TLS: ${(err as Error).message}; the certificate in service stays until the files change again`, { path: this.files.certificate });
    }
  }
}
