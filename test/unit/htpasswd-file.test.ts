// Table tests of the pure htpasswd text module: parsing (line numbers, every refusal), hash
// classification, user-name validation, and the text → text edits (comments, unknown lines, line
// terminators kept byte for byte).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bcryptCost,
  classifyHash,
  HtpasswdEditError,
  hasUser,
  listUsers,
  parseHtpasswd,
  removeUser,
  setUser,
  UserNotFoundError,
  validateUserName,
} from '../../src/auth/htpasswd-file.js';

// Real hashes (bcrypt from bcryptjs and Apache htpasswd, apr1/SHA from `htpasswd -nbm/-nbs`).
const B2B = '$2b$04$0DDgCnGvTMbtFKY1phyHvuFsJRougQr1LJwdx3WQKYnxXxRbYJrMq';
const B2Y = '$2y$04$iuqGPbD47ESrRCTRMxrF4OrO0d7mpshyBziJ8ckxixIn5I/ssR1Uu';
const B2A = B2B.replace('$2b$', '$2a$');
const B10 = '$2b$10$U7lB3NAST4da9hSvU5oLTukQPC0bA4DqDiPkqUFlvBE/FJHH/QS2u';
const APR1 = '$apr1$WvMT5Acp$.b/Vls7miKtWhI5g6ajTV0';
const SHA = '{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=';

describe('classifyHash', () => {
  const accepted: Array<[string, string]> = [
    [B2A, 'bcrypt'],
    [B2B, 'bcrypt'],
    [B2Y, 'bcrypt'],
    [B10, 'bcrypt'],
    [APR1, 'apr1'],
    ['$apr1$a$.b/Vls7miKtWhI5g6ajTV0', 'apr1'],
    [SHA, 'sha'],
  ];
  for (const [hash, kind] of accepted) {
    test(`accepts ${hash.slice(0, 7)}… as ${kind}`, () => assert.deepEqual(classifyHash(hash), { kind }));
  }
  const refused: Array<[string, string, RegExp]> = [
    ['plaintext', 'secret', /plaintext passwords are not accepted/],
    ['plaintext with symbols', 'pa ss!word', /plaintext passwords are not accepted/],
    ['DES-shaped value', 'rEK1ecacw.7.c', /plaintext passwords are not accepted.*DES/],
    ['empty', '', /empty password hash/],
    ['bcrypt truncated', B2B.slice(0, 50), /malformed bcrypt hash/],
    ['bcrypt $2x$', B2B.replace('$2b$', '$2x$'), /malformed bcrypt hash/],
    ['bcrypt cost 03', B2B.replace('$04$', '$03$'), /malformed bcrypt hash/],
    ['bcrypt cost 32', B2B.replace('$04$', '$32$'), /malformed bcrypt hash/],
    ['apr1 truncated', APR1.slice(0, 20), /malformed \$apr1\$ hash/],
    ['SHA bad base64 length', '{SHA}abc=', /malformed \{SHA\} hash/],
    ['md5-crypt', '$1$abcdefgh$0123456789012345678901', /unsupported hash scheme "\$1\$"/],
    ['sha256-crypt', '$5$vljfv193s1nrlVvs$0dOcX0XoSNZMZWGUh6zGa.9FPuHjRTIKIVAnUrBwnd/', /unsupported hash scheme "\$5\$"/],
    ['sha512-crypt', '$6$salt$hash', /unsupported hash scheme "\$6\$"/],
    ['argon2', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', /unsupported hash scheme "\$argon2id\$"/],
    ['SSHA', '{SSHA}abcdefgh', /unsupported hash scheme "\{SSHA\}"/],
    ['leading space', ` ${B2B}`, /whitespace around the password hash/],
  ];
  for (const [name, hash, message] of refused) {
    test(`refuses ${name}`, () => {
      const result = classifyHash(hash);
      assert.ok('error' in result, `expected an error for ${JSON.stringify(hash)}`);
      assert.match(result.error, message);
    });
  }
  test('bcryptCost', () => {
    assert.equal(bcryptCost(B2B), 4);
    assert.equal(bcryptCost(B10), 10);
    assert.equal(bcryptCost(APR1), null);
  });
});

describe('validateUserName', () => {
  const ok = ['alice', 'a', 'ci-bot_01', 'user@example.com', 'ünïcödé', 'x'.repeat(255), 'a#b'];
  for (const name of ok) test(`accepts ${JSON.stringify(name.slice(0, 20))}`, () => assert.equal(validateUserName(name), null));
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['a:b', /':'/],
    ['a b', /whitespace/],
    ['a\tb', /control character/],
    ['a\nb', /control character/],
    ['a\u0000b', /control character/],
    ['a\u007fb', /control character/],
    ['a\u0085b', /control character/],
    ['a\u00a0b', /whitespace/],
    ['a\u2003b', /whitespace/],
    ['#alice', /starts with '#'/],
    ['x'.repeat(256), /longer than 255 bytes/],
    ['é'.repeat(128), /longer than 255 bytes/], // 256 bytes in UTF-8
  ];
  for (const [name, message] of bad) {
    test(`refuses ${JSON.stringify(name.slice(0, 20))}`, () => assert.match(validateUserName(name) ?? '', message));
  }
});

describe('parseHtpasswd', () => {
  test('comments, blank lines, CRLF, surrounding whitespace, BOM', () => {
    const text = [
      '\uFEFF# header comment',
      '',
      `alice:${B2Y}`,
      '   # indented comment',
      `  bob:${APR1}  `,
      `carol:${SHA}\r`,
      '\t',
      `dave:${B2A}`,
    ].join('\n');
    const parsed = parseHtpasswd(text);
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(
      [...parsed.entries],
      [
        ['alice', B2Y],
        ['bob', APR1],
        ['carol', SHA],
        ['dave', B2A],
      ],
    );
  });

  test('a BOM right before the first user is not part of the name', () => {
    assert.deepEqual([...parseHtpasswd(`\uFEFFalice:${B2B}\n`).entries.keys()], ['alice']);
  });

  test('empty text and comment-only text have no users and no errors', () => {
    for (const text of ['', '\n\n', '# nothing\n']) assert.deepEqual(parseHtpasswd(text), { entries: new Map(), errors: [] });
  });

  // [name, text, expected users, expected errors as [line, message pattern]]
  const table: Array<[string, string, string[], Array<[number, RegExp]>]> = [
    ['line without a colon', `alice:${B2B}\njust-some-text\nbob:${B2Y}\n`, ['alice', 'bob'], [[2, /no ':'/]]],
    ['empty user', `:${B2B}\n`, [], [[1, /empty user name/]]],
    ['plaintext password', `# c\nalice:${B2B}\nbob:hunter2\n`, ['alice'], [[3, /user "bob": plaintext passwords are not accepted/]]],
    ['unknown hash scheme', `alice:$6$salt$hash\nbob:${B2B}`, ['bob'], [[1, /user "alice": unsupported hash scheme "\$6\$"/]]],
    ['empty hash', 'alice:\n', [], [[1, /empty password hash/]]],
    ['user with whitespace', `al ice:${B2B}\n`, [], [[1, /invalid user name: user name contains whitespace/]]],
    [
      'duplicate user: both lines refused',
      `alice:${B2B}\nbob:${B2Y}\n\nalice:${B2Y}\n`,
      ['bob'],
      [[4, /duplicate user "alice" \(first on line 1\)/]],
    ],
    [
      'duplicate of a broken line',
      `alice:plain\nalice:${B2B}\n`,
      [],
      [
        [1, /plaintext/],
        [2, /duplicate user "alice"/],
      ],
    ],
    [
      'several errors, numbered in order',
      `x\n# ok\nalice:${B2B}\n\n:${B2B}\nbob:nope\n`,
      ['alice'],
      [
        [1, /no ':'/],
        [5, /empty user name/],
        [6, /plaintext/],
      ],
    ],
    ['CRLF line numbers', `a:${B2B}\r\nb\r\nc:${B2Y}\r\n`, ['a', 'c'], [[2, /no ':'/]]],
    ['password containing a colon is the hash part', `alice:pass:word\n`, [], [[1, /plaintext/]]],
  ];
  for (const [name, text, users, errors] of table) {
    test(name, () => {
      const parsed = parseHtpasswd(text);
      assert.deepEqual([...parsed.entries.keys()], users);
      assert.equal(parsed.errors.length, errors.length, JSON.stringify(parsed.errors));
      errors.forEach(([line, message], i) => {
        assert.equal(parsed.errors[i]!.line, line);
        assert.match(parsed.errors[i]!.message, message);
      });
    });
  }

  test('error messages never quote a broken line', () => {
    const { errors } = parseHtpasswd('alice:MySecretPassw0rd\nMyOtherSecret\n');
    assert.equal(errors.length, 2);
    for (const e of errors) assert.doesNotMatch(e.message, /Secret/);
  });

  test('listUsers and hasUser', () => {
    const text = `# c\nalice:${B2B}\nbob:plain\ncarol:${SHA}\n`;
    assert.deepEqual(listUsers(text), ['alice', 'carol']);
    assert.equal(hasUser(text, 'bob'), true, 'a user with a broken line is still "in" the file');
    assert.equal(hasUser(text, 'dave'), false);
  });
});

describe('setUser', () => {
  // [name, before, user, hash, after]
  const table: Array<[string, string, string, string, string]> = [
    ['append to empty text', '', 'alice', B2B, `alice:${B2B}\n`],
    ['append keeps comments and unknown lines', `# users\nweird line\nbob:${B2Y}\n`, 'alice', B2B, `# users\nweird line\nbob:${B2Y}\nalice:${B2B}\n`],
    ['append adds the missing final newline', `bob:${B2Y}`, 'alice', B2B, `bob:${B2Y}\nalice:${B2B}\n`],
    ['append to a comment without newline', `# only`, 'alice', B2B, `# only\nalice:${B2B}\n`],
    [
      'replace in place, everything else byte for byte',
      `# a comment  \n\nalice:${APR1}\n  # indented\nbob:${B2Y}\ngarbage\n`,
      'alice',
      B2B,
      `# a comment  \n\nalice:${B2B}\n  # indented\nbob:${B2Y}\ngarbage\n`,
    ],
    ['replace the last line without newline', `bob:${B2Y}\nalice:${SHA}`, 'alice', B2B, `bob:${B2Y}\nalice:${B2B}\n`],
    ['replace an indented line (rewritten unindented)', `  alice:${SHA}  \nbob:${B2Y}\n`, 'alice', B2B, `alice:${B2B}\nbob:${B2Y}\n`],
    ['replace a plaintext line (fixes it)', `alice:hunter2\nbob:${B2Y}\n`, 'alice', B2B, `alice:${B2B}\nbob:${B2Y}\n`],
    ['duplicates collapse to the first line', `alice:${SHA}\nbob:${B2Y}\nalice:${APR1}\n`, 'alice', B2B, `alice:${B2B}\nbob:${B2Y}\n`],
    ['CRLF file stays CRLF (replace)', `# c\r\nalice:${SHA}\r\nbob:${B2Y}\r\n`, 'alice', B2B, `# c\r\nalice:${B2B}\r\nbob:${B2Y}\r\n`],
    ['CRLF file stays CRLF (append)', `# c\r\nbob:${B2Y}\r\n`, 'alice', B2B, `# c\r\nbob:${B2Y}\r\nalice:${B2B}\r\n`],
    ['BOM kept before a replaced first line', `\uFEFFalice:${SHA}\n`, 'alice', B2B, `\uFEFFalice:${B2B}\n`],
    ['a prefix of another name is another user', `alice2:${B2Y}\n`, 'alice', B2B, `alice2:${B2Y}\nalice:${B2B}\n`],
  ];
  for (const [name, before, user, hash, after] of table) {
    test(name, () => {
      const result = setUser(before, user, hash);
      assert.equal(result, after);
      assert.deepEqual(parseHtpasswd(result).entries.get(user), hash);
    });
  }

  test('refuses an invalid user name or a hash it would not accept', () => {
    assert.throws(() => setUser('', 'a:b', B2B), (err: unknown) => err instanceof HtpasswdEditError && err.code === 'INVALID_USER');
    assert.throws(() => setUser('', '#x', B2B), (err: unknown) => err instanceof HtpasswdEditError && err.code === 'INVALID_USER');
    assert.throws(() => setUser('', 'alice', 'plaintext'), (err: unknown) => err instanceof HtpasswdEditError && err.code === 'INVALID_HASH');
    assert.throws(() => setUser('', 'alice', `${B2B}\nmallory:${B2B}`), (err: unknown) => err instanceof HtpasswdEditError && err.code === 'INVALID_HASH');
  });
});

describe('removeUser', () => {
  const table: Array<[string, string, string, string]> = [
    ['middle line', `# c\nalice:${B2B}\nbob:${B2Y}\n`, 'alice', `# c\nbob:${B2Y}\n`],
    ['keeps unknown lines and comments', `x y z\n# keep\nalice:${B2B}\n\n`, 'alice', `x y z\n# keep\n\n`],
    ['last line without newline', `bob:${B2Y}\nalice:${B2B}`, 'alice', `bob:${B2Y}\n`],
    ['only line', `alice:${B2B}\n`, 'alice', ''],
    ['every duplicate line', `alice:${B2B}\nbob:${B2Y}\nalice:${SHA}\n`, 'alice', `bob:${B2Y}\n`],
    ['a broken line of that user', `alice:plain\nbob:${B2Y}\n`, 'alice', `bob:${B2Y}\n`],
    ['CRLF', `alice:${B2B}\r\nbob:${B2Y}\r\n`, 'alice', `bob:${B2Y}\r\n`],
    ['BOM moves to the new first line', `\uFEFFalice:${B2B}\nbob:${B2Y}\n`, 'alice', `\uFEFFbob:${B2Y}\n`],
  ];
  for (const [name, before, user, after] of table) {
    test(name, () => assert.equal(removeUser(before, user), after));
  }

  test('absent user → UserNotFoundError', () => {
    assert.throws(
      () => removeUser(`# alice:${B2B}\nalice2:${B2B}\n`, 'alice'),
      (err: unknown) => err instanceof UserNotFoundError && err.code === 'USER_NOT_FOUND' && err.user === 'alice',
    );
  });
});
