import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { decodeName, encodeName, fsPath, hasEscapedBytes } from '@tsbuild/oci-layout';

describe('byte names', () => {
  test('invalid UTF-8 bytes survive a round trip and stay distinct', () => {
    const a = Buffer.from('hi\x80\x81\x82\x83bye', 'latin1');
    const b = Buffer.from('hi\x80\x81\x82\x84bye', 'latin1');
    expect(decodeName(a)).not.toBe(decodeName(b));
    expect(encodeName(decodeName(a))).toEqual(a);
    expect(encodeName(decodeName(b))).toEqual(b);
    expect(hasEscapedBytes(decodeName(a))).toBe(true);
    expect(fsPath(decodeName(a))).toEqual(a);
  });

  test('valid UTF-8 decodes as text, and plain names stay strings', () => {
    expect(decodeName(Buffer.from('héllo/日本/😀'))).toBe('héllo/日本/😀');
    expect(fsPath('héllo')).toBe('héllo');
    expect(hasEscapedBytes('😀')).toBe(false);
  });

  test('overlong forms, encoded surrogates and truncated sequences are bytes, not text', () => {
    for (const hex of ['c0af', 'e080af', 'eda080', 'f4908080', 'e282', 'f09f98', 'ff', 'fe']) {
      const bytes = Buffer.from(hex, 'hex');
      const name = decodeName(bytes);
      expect(hasEscapedBytes(name)).toBe(true);
      expect(encodeName(name)).toEqual(bytes);
    }
  });

  test('any byte string round-trips', () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(1 + (i % 40));
      expect(encodeName(decodeName(bytes))).toEqual(bytes);
    }
  });

  test('a slice decodes only its own bytes', () => {
    const bytes = Buffer.from('xx\xffyy', 'latin1');
    expect(encodeName(decodeName(bytes, 1, 4))).toEqual(bytes.subarray(1, 4));
  });
});
