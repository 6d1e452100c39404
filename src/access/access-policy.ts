// regate.access: who may do what to which repository, as an ordered list of rules.
//
// A rule names users (`*` = any authenticated user) and/or groups, repository globs and actions
// (pull, push, delete). For a user and a repository, the FIRST rule that names the user (directly,
// through one of their groups, or by `*`) and whose globs match the repository decides: the user
// may do exactly that rule's actions there (an empty list denies). No rule that fits: nothing is
// allowed. Globs are picomatch's: `*` stays within one path component, `**` crosses them
// (`team-a/**` is everything under team-a/; `**` is every repository).
import picomatch from 'picomatch';

export type AccessAction = 'pull' | 'push' | 'delete';
export const ACCESS_ACTIONS: readonly AccessAction[] = ['pull', 'push', 'delete'];

export interface AccessRule {
  users: string[];
  groups: string[];
  repositories: string[];
  actions: AccessAction[];
}

interface CompiledRule {
  anyUser: boolean;
  users: Set<string>;
  groups: Set<string>;
  matches: (repository: string) => boolean;
  actions: ReadonlySet<AccessAction>;
}

const NOTHING: ReadonlySet<AccessAction> = new Set();

/** Why a glob is unusable, or null. */
export function globProblem(glob: string): string | null {
  if (typeof glob !== 'string' || glob === '') return 'is empty';
  if (glob.startsWith('/')) return 'starts with "/" (repository names never do)';
  try {
    picomatch(glob);
  } catch (err) {
    return (err as Error).message;
  }
  return null;
}

export class AccessPolicy {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly AccessRule[]) {
    this.rules = rules.map((rule) => ({
      anyUser: rule.users.includes('*'),
      users: new Set(rule.users),
      groups: new Set(rule.groups),
      matches: picomatch(rule.repositories, { nobrace: false, noextglob: true }),
      actions: new Set(rule.actions),
    }));
  }

  /** What `user` (member of `groups`) may do to `repository`. */
  allowed(user: string, groups: ReadonlySet<string>, repository: string): ReadonlySet<AccessAction> {
    for (const rule of this.rules) {
      if (!this.names(rule, user, groups)) continue;
      if (rule.matches(repository)) return rule.actions;
    }
    return NOTHING;
  }

  may(user: string, groups: ReadonlySet<string>, repository: string, action: AccessAction): boolean {
    return this.allowed(user, groups, repository).has(action);
  }

  private names(rule: CompiledRule, user: string, groups: ReadonlySet<string>): boolean {
    if (rule.anyUser || rule.users.has(user)) return true;
    for (const group of groups) if (rule.groups.has(group)) return true;
    return false;
  }
}
