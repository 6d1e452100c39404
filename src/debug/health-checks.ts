// The health checks the debug listener reports, as Distribution names them: one per check, e.g.
// `storagedriver_filesystem`, with the problem while it fails. The checks themselves live with what
// they check (registry/storage-health.ts); this is only the shape the report reads.

export interface HealthCheck {
  /** Distribution's check name, e.g. `storagedriver_swift`. */
  readonly name: string;
  /** Why the check fails; undefined while healthy. */
  readonly problem: string | undefined;
}

/** `{}` when every check passes, else `{name: problem}` for each failing one (Distribution's /debug/health body). */
export function healthReport(checks: readonly HealthCheck[]): { healthy: boolean; body: Record<string, string> } {
  const body: Record<string, string> = {};
  for (const check of checks) {
    const problem = check.problem;
    if (problem !== undefined) body[check.name] = problem;
  }
  return { healthy: Object.keys(body).length === 0, body };
}
