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

test('a stored ml-kem-aes envelope (the IM protocol\'s plain envelope) opens to its plaintext', async (t) => {
  const { generateKeyPair, openMlKemAes } = await import('../../src/messaging/ml-kem-aes.js');
  const v = JSON.parse(readFileSync(new URL('../../../test/vectors/ml-kem-aes.json', import.meta.url), 'utf8'));
  const { secretKey } = generateKeyPair(Uint8Array.from(Buffer.from(v.kemSeedHex, 'hex')));
  const opened = openMlKemAes(v.envelope, secretKey);
  t.equal(opened && new TextDecoder().decode(opened), v.plaintext, 'opens to the stored plaintext');
  const tampered = { ...v.envelope, serializedEncryptedData: v.envelope.serializedEncryptedData.replace(/^./, (c: string) => (c === 'A' ? 'B' : 'A')) };
  t.equal(openMlKemAes(tampered, secretKey), null, 'a tampered copy does not open');
  t.end();
});
