import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../errors/index.ts';
import { base64ToHex, generatePresharedKey, generatePrivateKey, hexToBase64, isBase64Key, keyBytes, parsePresharedKey, publicKeyOf, ZERO_KEY } from './keys.ts';

// Computed once with wireguard-tools 1.0.20210914 (`echo <private> | wg pubkey`).
const WG_PUBKEY_VECTORS: Array<[string, string]> = [
  ['wG6UjjFVX+yk2TxgiUtGzjWIdRsYPw0d5gFUFUj5x28=', 'Usp5SVLw4eNVucHgApuNUUPYhSd9tth0thcz8EHrWnI='],
  ['QABo72JeFLNP1hyshcH5BCD+X6tA0Cb6jwIy3z0Jong=', 'RB0hO2wGIbdmDUeB5D7f+jdU0NAZr+CM/QpJdvB19GQ='],
  ['4PQ0N2XhYrdQkHS3y+i6hiknLnJz9msYdFZwhcZjblo=', 'H8AVr/BGU3Be1naI1NF6iXr2NHgBgfLJUHQBmI73p04='],
  // Not clamped: wg pubkey clamps before multiplying, and so must we.
  ['//////////////////////////////////////////8=', 'hHwNLDdSNPNl5mCVUYejc1oPdhPRYJ06ak2MU66qWiI='],
  ['AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=', 'pOCSkrZRwni5dyxWn1+puxPZBrRqtoyd+dwrRAn4ogk='],
];

describe('wireguard keys', () => {
  for (const [priv, pub] of WG_PUBKEY_VECTORS) {
    it(`derives the public key \`wg pubkey\` prints for ${priv.slice(0, 8)}...`, () => {
      assert.equal(publicKeyOf(priv), pub);
    });
  }

  it('generates clamped private keys, as `wg genkey`', () => {
    for (let i = 0; i < 20; i++) {
      const b = keyBytes(generatePrivateKey());
      assert.equal((b[0] ?? 0) & 7, 0);
      assert.equal((b[31] ?? 0) & 0xc0, 0x40);
    }
  });

  it('generates distinct keys of 32 bytes', () => {
    const keys = new Set(Array.from({ length: 50 }, () => generatePresharedKey()));
    assert.equal(keys.size, 50);
    for (const k of keys) assert.equal(keyBytes(k).length, 32);
  });

  it('converts base64 to the hex the UAPI uses and back', () => {
    assert.equal(base64ToHex('4PQ0N2XhYrdQkHS3y+i6hiknLnJz9msYdFZwhcZjblo='), 'e0f4343765e162b7509074b7cbe8ba8629272e7273f66b1874567085c6636e5a');
    assert.equal(hexToBase64('e0f4343765e162b7509074b7cbe8ba8629272e7273f66b1874567085c6636e5a'), '4PQ0N2XhYrdQkHS3y+i6hiknLnJz9msYdFZwhcZjblo=');
    assert.equal(hexToBase64('E0F4343765E162B7509074B7CBE8BA8629272E7273F66B1874567085C6636E5A'), undefined, 'the UAPI writes lower case');
    assert.equal(hexToBase64('e0f4'), undefined);
    assert.equal(base64ToHex(ZERO_KEY), '0'.repeat(64));
  });

  it('accepts only canonical 44-character base64 of 32 bytes, as wg does', () => {
    assert.equal(isBase64Key('K05yjrrgj8kZumxRurRQnxqen9U0ltc8khPI+l7Xsak='), true);
    assert.equal(isBase64Key('K05yjrrgj8kZumxRurRQnxqen9U0ltc8khPI+l7Xsal='), false, 'stray bits in the last character');
    assert.equal(isBase64Key('K05yjrrgj8kZumxRurRQnxqen9U0ltc8khPI+l7Xsak'), false, 'no padding');
    assert.equal(isBase64Key(' K05yjrrgj8kZumxRurRQnxqen9U0ltc8khPI+l7Xsak='), false);
    assert.equal(isBase64Key('K05yjrrgj8kZumxRurRQnxqen9U0ltc8khPI-l7Xsak='), false, 'base64url is not what wg prints');
  });

  describe('PSK validation', () => {
    const cases: Array<[string, unknown, string]> = [
      ['too short', 'AAAA', 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got "AAAA", which is base64 of 3 bytes'],
      ['not base64', 'not a key', 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got "not a key", which is not base64'],
      ['a number', 12, 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got a number'],
      ['null', null, 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got null'],
      ['missing', undefined, 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got nothing'],
      ['missing padding', 'K05yjrrgj8kZumxRurRQnxqen9U0ltc8khPI+l7Xsak', 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got "K05yjr..." (43 characters), which is not base64'],
      ['not canonical', 'K05yjrrgj8kZumxRurRQnxqen9U0ltc8khPI+l7Xsal=', 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got "K05yjr..." (44 characters), which is not canonical base64 (`wg` rejects it too)'],
      ['64 bytes', Buffer.alloc(64, 1).toString('base64'), 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got "AQEBAQ..." (88 characters), which is base64 of 64 bytes'],
    ];
    for (const [name, value, message] of cases) {
      it(`rejects a PSK that is ${name}`, () => {
        assert.throws(
          () => parsePresharedKey(value),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError);
            assert.equal(err.code, 'E_BACKEND_CONFIG');
            assert.equal(err.message, message);
            assert.equal(err.hint, 'generate one with `wg genpsk` (44 characters ending in "=") and set the same value in Backend.PSK on every node');
            return true;
          },
        );
      });
    }

    it('accepts what `wg genpsk` prints and names another key when asked', () => {
      assert.equal(parsePresharedKey('K05yjrrgj8kZumxRurRQnxqen9U0ltc8khPI+l7Xsak='), 'K05yjrrgj8kZumxRurRQnxqen9U0ltc8khPI+l7Xsak=');
      assert.throws(() => parsePresharedKey('x', 'Backend.PSK'), { message: 'Backend.PSK must be a 32-byte base64 key as printed by `wg genpsk`, got "x", which is not base64' });
    });
  });
});
