// regate.access: per-repository rights for htpasswd users (src/access/access-policy.ts has the
// semantics). Every key is known or refused by name.
//
//   regate:
//     access:
//       groupsfile: htpasswd/groups        # optional, Apache AuthGroupFile format, reloaded live
//       rules:                             # in order; the first rule naming the user and matching wins
//         - users: [ci]
//           repositories: ["**"]
//           actions: [pull]
//         - groups: [team-a]
//           repositories: ["team-a/**"]
//           actions: [pull, push, delete]
import { resolve } from 'node:path';
import { ACCESS_ACTIONS, globProblem, type AccessAction, type AccessRule } from '../access/access-policy.js';
import type { AccessConfig } from './config-types.js';
import { keysUnder } from './config-keys.js';

type Fail = (key: string, problem: string) => never;

const KEYS = keysUnder('regate.access');
const RULE_KEYS = keysUnder('regate.access.rules[]');

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function names(value: unknown, key: string, fail: Fail): string[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((v) => typeof v === 'string' && v.trim() !== '')) fail(key, 'must be a list of names');
  return (list as string[]).map((v) => v.trim());
}

export function parseAccess(value: unknown, baseDir: string, fail: Fail, warnings: string[]): AccessConfig | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isMapping(value)) return fail('regate.access', 'must be a mapping with rules (and optionally groupsfile)');
  for (const k of Object.keys(value)) if (!KEYS.includes(k)) fail(`regate.access.${k}`, `is not a regate.access key; known keys: ${KEYS.join(', ')}`);
  let groupsFile: string | undefined;
  if (value.groupsfile !== undefined && value.groupsfile !== null) {
    if (typeof value.groupsfile !== 'string' || value.groupsfile === '') fail('regate.access.groupsfile', 'must be a path');
    groupsFile = resolve(baseDir, value.groupsfile as string);
  }
  if (!Array.isArray(value.rules) || value.rules.length === 0) fail('regate.access.rules', 'must be a non-empty list of rules');
  const rules: AccessRule[] = (value.rules as unknown[]).map((raw, i) => {
    const key = (k?: string): string => `regate.access.rules[${i}]${k ? `.${k}` : ''}`;
    if (!isMapping(raw)) return fail(key(), 'must be a mapping with users or groups, repositories and actions');
    for (const k of Object.keys(raw)) if (!RULE_KEYS.includes(k)) fail(key(k), `is not a rule key; known keys: ${RULE_KEYS.join(', ')}`);
    const users = names(raw.users, key('users'), fail);
    const groups = names(raw.groups, key('groups'), fail);
    if (users.length === 0 && groups.length === 0) fail(key(), 'names nobody: give users (or "*" for every user) or groups');
    if (groups.length > 0 && !groupsFile) fail(key('groups'), 'needs regate.access.groupsfile');
    const repositories = names(raw.repositories, key('repositories'), fail);
    if (repositories.length === 0) fail(key('repositories'), 'is required (a list of globs; "**" is every repository)');
    for (const glob of repositories) {
      const problem = globProblem(glob);
      if (problem) fail(key('repositories'), `"${glob}" ${problem}`);
    }
    if (raw.actions === undefined || raw.actions === null) fail(key('actions'), `is required (a list of ${ACCESS_ACTIONS.join(', ')}; [] denies)`);
    const actions = names(raw.actions, key('actions'), fail).map((a) => a.toLowerCase());
    for (const action of actions) {
      if (!ACCESS_ACTIONS.includes(action as AccessAction)) fail(key('actions'), `"${action}" is not one of ${ACCESS_ACTIONS.join(', ')}`);
    }
    if (actions.includes('push') && !actions.includes('pull')) {
      warnings.push(`${key('actions')}: push without pull: docker, podman and skopeo look for existing layers (a pull) before they push, so their pushes will be denied`);
    }
    return { users, groups, repositories, actions: [...new Set(actions)] as AccessAction[] };
  });
  return { ...(groupsFile ? { groupsFile } : {}), rules };
}
