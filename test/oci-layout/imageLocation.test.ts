import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { formatImageLocation, ImageLocationError, parseImageLocation, type ImageLocation } from '@tsbuild/oci-layout';

/** What each spelling means: skopeo's rules (containers/image), decided once for every command and tsdive. */
const READINGS: [string, ImageLocation][] = [
  // Plain text is a store name or ID, whatever it looks like.
  ['alpine', { transport: 'store', name: 'alpine' }],
  ['localhost:5000/app:1.0', { transport: 'store', name: 'localhost:5000/app:1.0' }],
  ['sha256:0123abcd', { transport: 'store', name: 'sha256:0123abcd' }],
  ['0123abcd', { transport: 'store', name: '0123abcd' }],
  ['store:diff', { transport: 'store', name: 'diff' }],
  ['store:oci:x', { transport: 'store', name: 'oci:x' }],
  // docker:// takes the rest as a reference, colons and digests included.
  ['docker://alpine', { transport: 'docker', reference: 'alpine' }],
  ['docker://127.0.0.1:5000/a/b:1@sha256:00', { transport: 'docker', reference: '127.0.0.1:5000/a/b:1@sha256:00' }],
  // PATH:REF splits at the first colon, so the REF keeps its own colons and the path cannot have any.
  ['oci:dir', { transport: 'oci', path: resolve('dir') }],
  ['oci:dir:', { transport: 'oci', path: resolve('dir') }],
  ['oci:/abs/dir:latest', { transport: 'oci', path: '/abs/dir', ref: 'latest' }],
  ['oci:/root/oci:localhost/hello:latest', { transport: 'oci', path: '/root/oci', ref: 'localhost/hello:latest' }],
  ['oci-archive:a.tar:app:1', { transport: 'oci-archive', path: resolve('a.tar'), ref: 'app:1' }],
  ['docker-archive:/x/a.tar', { transport: 'docker-archive', path: '/x/a.tar' }],
  ['docker-archive:/x/a.tar:busybox:latest', { transport: 'docker-archive', path: '/x/a.tar', ref: 'busybox:latest' }],
  // skopeo's @N: the archive's N-th image.
  ['docker-archive:/x/a.tar:@1', { transport: 'docker-archive', path: '/x/a.tar', ref: 1 }],
];

const REFUSED: [string, RegExp][] = [
  ['', /names no image/],
  ['store:', /names no image/],
  ['docker://', /names no image after docker:\/\//],
  ['docker:alpine', /starts with \/\//],
  ['oci:', /names no path after oci:/],
  ['oci::ref', /names no path after oci:/],
  ['oci-archive:', /names no path after oci-archive:/],
  ['docker-archive::x', /names no path after docker-archive:/],
  ['docker-archive:a.tar:@x', /not an image index/],
  ['docker-archive:a.tar:@', /not an image index/],
];

describe('image locations', () => {
  test.each(READINGS)('%s', (text, expected) => {
    expect(parseImageLocation(text)).toEqual(expected);
  });

  test.each(REFUSED)('refuses "%s"', (text, message) => {
    expect(() => parseImageLocation(text)).toThrow(ImageLocationError);
    expect(() => parseImageLocation(text)).toThrow(message);
  });

  test.each(READINGS)('%s prints as text that reads back the same', (text) => {
    const loc = parseImageLocation(text);
    expect(parseImageLocation(formatImageLocation(loc))).toEqual(loc);
  });

  test('a store name that looks like another transport prints with store:', () => {
    expect(formatImageLocation({ transport: 'store', name: 'oci:x' })).toBe('store:oci:x');
    expect(formatImageLocation({ transport: 'store', name: 'localhost/app:1' })).toBe('localhost/app:1');
    expect(formatImageLocation({ transport: 'docker-archive', path: '/a.tar', ref: 2 })).toBe('docker-archive:/a.tar:@2');
  });
});
