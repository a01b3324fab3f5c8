import test from 'tape';
import { fastStringify, tooDeep } from '../../src/signaling/fast-json.js';

test('fastStringify gives what JSON.stringify gives, for long and short strings, escapes, nesting and toJSON', (t) => {
  const long = 'QUJD'.repeat(200);
  const values: unknown[] = [
    { algorithm: 'relaymesh-im-v1', sid: 'AAAA', seq: 7, serializedEncryptedData: long },
    { a: 1, b: 'short', c: null, d: true },
    { s: `${long}"quoted"\\ and \u0001 control`, n: [1, long, { x: long }] },
    { u: 'ünïcödé'.repeat(60), e: '\u2028'.repeat(300) },
    { skipped: undefined, f: () => 1, kept: 1 },
    [long, undefined, () => 1, 'x'],
    { d: new Date(0), nested: { deeper: { deepest: [long] } } },
    'plain', 42, null,
  ];
  for (const v of values) t.equal(fastStringify(v), JSON.stringify(v), `same as JSON.stringify: ${JSON.stringify(v)?.slice(0, 40)}`);
  t.end();
});

test('tooDeep counts nesting levels of objects and arrays', (t) => {
  t.notOk(tooDeep({ a: { b: [1] } }, 3), 'three levels fit in three');
  t.ok(tooDeep({ a: { b: { c: {} } } }, 3), 'four do not');
  t.notOk(tooDeep('x', 0), 'a string has no depth');
  t.end();
});

test('a value parsed from text without a backslash, stringified verbatim, gives what JSON.stringify gives', (t) => {
  const long = 'QUJD+/=='.repeat(100);
  const texts = [
    JSON.stringify({ algorithm: 'relaymesh-im-v1', sid: 'AAAA', seq: 7, serializedEncryptedData: long }),
    JSON.stringify({ u: 'ünïcödé \u2028 \u{1F600}'.repeat(40), list: [long, 1, null, { deep: long }], 'ключ': long }),
    JSON.stringify({ big: 1e400, small: -0, n: 1.5e-7, s: long }).replace('null', '1e400'),
  ];
  for (const text of texts) {
    t.notOk(text.includes('\\'), 'the text has no backslash');
    const v = JSON.parse(text);
    t.equal(fastStringify(v, 0, true), JSON.stringify(v), `same as JSON.stringify: ${text.slice(0, 40)}`);
  }
  t.end();
});
