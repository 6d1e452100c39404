// regate.access as pure functions: rule order and glob semantics, the groups file format, and
// config errors that name the key.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessPolicy } from '../../src/access/access-policy.js';
import { parseGroups } from '../../src/access/groups-file.js';
import { validateConfig } from '../../src/config/load-config.js';

const none: ReadonlySet<string> = new Set();

describe('AccessPolicy', () => {
  const policy = new AccessPolicy([
    { users: ['mallory'], groups: [], repositories: ['**'], actions: [] },
    { users: [], groups: ['team-a'], repositories: ['team-a/**'], actions: ['pull', 'push'] },
    { users: ['ci'], groups: [], repositories: ['**'], actions: ['pull'] },
    { users: ['*'], groups: [], repositories: ['public/*', 'mirror/{alpine,debian}'], actions: ['pull'] },
  ]);
  const cases: Array<[string, ReadonlySet<string>, string, string[]]> = [
    ['ann', new Set(['team-a']), 'team-a/app', ['pull', 'push']],
    ['ann', new Set(['team-a']), 'team-a/x/y/z', ['pull', 'push']],
    ['ann', new Set(['team-a']), 'team-ab/app', []], // a prefix is a path component, not a string
    ['ann', new Set(['team-a']), 'public/base', ['pull']],
    ['ann', new Set(['team-a']), 'public/deep/base', []], // * stays within one component
    ['ann', new Set(['team-a']), 'mirror/debian', ['pull']],
    ['ann', new Set(['team-a']), 'mirror/fedora', []],
    ['ci', none, 'team-a/app', ['pull']],
    ['ci', none, 'anything/at/all', ['pull']],
    ['mallory', none, 'public/base', []], // the first rule naming the user decides, even when empty
    ['nobody', none, 'team-a/app', []],
  ];
  for (const [user, groups, repository, actions] of cases) {
    test(`${user} on ${repository}: ${actions.join(', ') || 'nothing'}`, () => {
      assert.deepEqual([...policy.allowed(user, groups, repository)].sort(), [...actions].sort());
    });
  }
});

describe('parseGroups (Apache AuthGroupFile)', () => {
  test('groups, several users, a group over two lines, comments and blanks', () => {
    const parsed = parseGroups('# teams\nteam-a: ann  bo\n\nadmins:root\nteam-a: cy\r\nempty:\n');
    assert.deepEqual(parsed.errors, []);
    assert.equal(parsed.groups, 3);
    assert.deepEqual([...parsed.memberships.get('ann')!], ['team-a']);
    assert.deepEqual([...parsed.memberships.get('cy')!], ['team-a']);
    assert.deepEqual([...parsed.memberships.get('root')!], ['admins']);
  });
  test('a line without a colon or with a bad group name is an error with its line number', () => {
    const parsed = parseGroups('ok: a\njust words\n bad group: x\n');
    assert.deepEqual(parsed.errors.map((e) => e.line), [2, 3]);
  });
});

describe('regate.access config', () => {
  const base = (access: unknown): Record<string, unknown> => ({
    version: '0.1',
    storage: { inmemory: {} },
    auth: { htpasswd: { path: '/tmp/htpasswd-for-config-test' } },
    regate: { access },
  });
  const refuses = (access: unknown, pattern: RegExp): void => {
    assert.throws(() => validateConfig(base(access), 'test', '/tmp'), pattern);
  };
  test('a valid section loads, with the groups file resolved', () => {
    const config = validateConfig(
      base({ groupsfile: 'groups', rules: [{ groups: ['a'], repositories: ['a/**'], actions: ['pull', 'push'] }] }),
      'test',
      '/etc/regate',
    );
    assert.equal(config.regate.access?.groupsFile, '/etc/regate/groups');
    assert.deepEqual(config.regate.access?.rules[0]?.actions, ['pull', 'push']);
  });
  test('mistakes are errors naming the key', () => {
    refuses({ rules: [] }, /regate\.access\.rules/);
    refuses({ rule: [] }, /regate\.access\.rule\b/);
    refuses({ rules: [{ repositories: ['**'], actions: ['pull'] }] }, /rules\[0\].*names nobody/);
    refuses({ rules: [{ users: ['a'], repositories: ['**'], actions: ['read'] }] }, /rules\[0\]\.actions.*"read"/);
    refuses({ rules: [{ users: ['a'], actions: ['pull'] }] }, /rules\[0\]\.repositories/);
    refuses({ rules: [{ users: ['a'], repositories: ['/abs'], actions: ['pull'] }] }, /rules\[0\]\.repositories/);
    refuses({ rules: [{ groups: ['g'], repositories: ['**'], actions: ['pull'] }] }, /groups.*needs regate\.access\.groupsfile/);
    refuses({ rules: [{ users: ['a'], repositories: ['**'], actions: ['pull'], extra: 1 }] }, /rules\[0\]\.extra/);
  });
  test('push without pull loads with a warning', () => {
    const config = validateConfig(base({ rules: [{ users: ['a'], repositories: ['**'], actions: ['push'] }] }), 'test', '/tmp');
    assert.ok(config.warnings.some((w) => /push without pull/.test(w)));
  });
  test('access rules without auth are refused', () => {
    assert.throws(
      () => validateConfig({ version: '0.1', storage: { inmemory: {} }, regate: { access: { rules: [{ users: ['*'], repositories: ['**'], actions: ['pull'] }] } } }, 'test', '/tmp'),
      /regate\.access.*needs auth\.htpasswd/,
    );
  });
});
