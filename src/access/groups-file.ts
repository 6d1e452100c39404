// The groups file of regate.access, in Apache's AuthGroupFile format: one group per line,
// `group: user user …` (spaces between users), `#` comments and blank lines ignored. A group on
// several lines has every user of them. Parsing is pure; GroupsStore keeps the file live as the
// users file is kept (live-file.ts: debounced until stable, swapped whole, last good kept).
import type { Logger } from '../log/logger.js';
import { LiveFile, type LineError } from '../auth/live-file.js';

export interface ParsedGroups {
  /** user → the groups they belong to. */
  memberships: Map<string, Set<string>>;
  groups: number;
  errors: LineError[];
}

const GROUP_RE = /^[A-Za-z0-9._@-][A-Za-z0-9._@+-]*$/;

export function parseGroups(text: string): ParsedGroups {
  const memberships = new Map<string, Set<string>>();
  const groups = new Set<string>();
  const errors: LineError[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon < 0) {
      errors.push({ line: index + 1, message: 'expected "group: user user …"' });
      return;
    }
    const group = line.slice(0, colon).trim();
    if (!GROUP_RE.test(group)) {
      errors.push({ line: index + 1, message: 'the group name is empty or has characters other than letters, digits and . _ @ + -' });
      return;
    }
    groups.add(group);
    for (const user of line.slice(colon + 1).trim().split(/\s+/)) {
      if (user === '') continue;
      let set = memberships.get(user);
      if (!set) memberships.set(user, (set = new Set()));
      set.add(group);
    }
  });
  return { memberships, groups: groups.size, errors };
}

const NO_GROUPS: ReadonlySet<string> = new Set();

export class GroupsStore {
  private memberships = new Map<string, Set<string>>();
  private readonly file: LiveFile<Map<string, Set<string>>>;

  constructor(options: { path: string; logger: Logger; pollIntervalMs?: number; watch?: boolean }) {
    this.file = new LiveFile({
      path: options.path,
      logger: options.logger,
      label: 'access groups',
      noun: 'group(s)',
      pollIntervalMs: options.pollIntervalMs,
      watch: options.watch,
      parse: (text) => {
        const parsed = parseGroups(text);
        return { value: parsed.memberships, entries: parsed.groups, errors: parsed.errors };
      },
      onSwap: (memberships) => {
        this.memberships = memberships;
      },
    });
  }

  get path(): string {
    return this.file.path;
  }

  get generation(): number {
    return this.file.generation;
  }

  start(): Promise<void> {
    return this.file.start();
  }

  stop(): Promise<void> {
    return this.file.stop();
  }

  checkNow(): Promise<void> {
    return this.file.checkNow();
  }

  groupsOf(user: string): ReadonlySet<string> {
    return this.memberships.get(user) ?? NO_GROUPS;
  }
}
