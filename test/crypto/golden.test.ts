import test from 'tape';
import { readFileSync, writeFileSync } from 'node:fs';
import { computeVectors } from './vectors.js';

// Golden vectors: every cryptographic envelope from fixed inputs. A change to
// any derivation, label, layout or library version shows up here.
const file = new URL('../../../test/vectors/crypto.json', import.meta.url);

if (process.argv.includes('--write')) {
  writeFileSync(file, JSON.stringify(computeVectors(), null, 2) + '\n');
}

test('cryptographic envelopes match the golden vectors', (t) => {
  const expected = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const actual = computeVectors();
  t.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), 'the same vectors exist');
  for (const k of Object.keys(expected)) t.equal(actual[k], expected[k], k);
  t.end();
});
