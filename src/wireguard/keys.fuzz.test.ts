import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../errors/index.ts';
import { fuzzParams } from '../../test/harness/fuzz.ts';
import { base64ToHex, hexToBase64, isBase64Key, keyBytes, keyFromBytes, parsePresharedKey, publicKeyOf } from './keys.ts';

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));

describe('wireguard keys (properties)', () => {
  it('base64 -> hex -> base64 and bytes -> base64 -> bytes round-trip', () => {
    fc.assert(
      fc.property(key32, (bytes) => {
        const b64 = keyFromBytes(bytes);
        assert.equal(isBase64Key(b64), true);
        assert.deepEqual(keyBytes(b64), bytes);
        const hex = base64ToHex(b64);
        assert.match(hex, /^[0-9a-f]{64}$/);
        assert.equal(hexToBase64(hex), b64);
      }),
      fuzzParams(),
    );
  });

  it('a public key is a key, and the same for a private key and its clamped form', () => {
    fc.assert(
      fc.property(key32, (bytes) => {
        const pub = publicKeyOf(keyFromBytes(bytes));
        assert.equal(isBase64Key(pub), true);
        const clamped = Buffer.from(bytes);
        clamped[0] = (clamped[0] ?? 0) & 248;
        clamped[31] = ((clamped[31] ?? 0) & 127) | 64;
        assert.equal(publicKeyOf(keyFromBytes(clamped)), pub);
      }),
      fuzzParams(),
    );
  });

  it('any string is either a key (exactly canonical base64 of 32 bytes) or a ConfigError, never another throw', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.base64String({ minLength: 40, maxLength: 48 }), key32.map((b) => b.toString('base64'))), (text) => {
        let accepted: string | undefined;
        try {
          accepted = parsePresharedKey(text);
        } catch (err) {
          assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
          assert.equal(err.code, 'E_BACKEND_CONFIG');
          assert.ok(!err.message.includes(text) || text.length <= 12, 'a long value is never printed whole');
        }
        const canonical = text.length === 44 && Buffer.from(text, 'base64').length === 32 && Buffer.from(text, 'base64').toString('base64') === text;
        assert.equal(accepted !== undefined, canonical);
      }),
      fuzzParams(),
    );
  });
});
