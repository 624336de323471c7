import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ListingPrefetch } from '@tsbuild/builder';
import { listDirectoryAsync, type DirectoryListing } from '@tsbuild/oci-layout';

// A layer walk takes the listings of the directories it reaches from the thread pool when they
// are in (#14): each must be its own directory's, made no more than a few ahead, and a
// directory whose listing is not in, was never expected or failed is left to the walk to list.

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbuild-prefetch-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Directories d0..d(n-1) under work, each holding files named after it. */
async function dirs(n: number): Promise<string[]> {
  const made: string[] = [];
  for (let i = 0; i < n; i++) {
    const dir = join(work, `d${i}`);
    await mkdir(dir);
    for (let f = 0; f < 3; f++) await writeFile(join(dir, `d${i}-f${f}`), '');
    made.push(dir);
  }
  return made;
}

const names = (listing: { entries(): { name: string }[] } | undefined) => listing?.entries().map((e) => e.name).sort();

/**
 * A prefetch whose listings are the pool's own, watched: `listed` is the directories it started to
 * list, in order, and `settle` waits until every listing started so far has landed (or failed).
 * The prefetch's own handler of each listing was attached first, so it has run by then.
 */
function watchedPrefetch() {
  const listed: string[] = [];
  const listings: Promise<DirectoryListing>[] = [];
  const prefetch = new ListingPrefetch((dir) => {
    listed.push(dir);
    const listing = listDirectoryAsync(dir);
    listings.push(listing);
    return listing;
  });
  const settle = async () => {
    await Promise.allSettled(listings);
  };
  return { prefetch, listed, settle };
}

describe('ListingPrefetch', () => {
  test('gives each directory its own listing, made ahead on the pool, a few at a time', async () => {
    const [d0, d1, d2, d3, d4] = await dirs(5);
    const { prefetch, listed, settle } = watchedPrefetch();
    prefetch.expect([d0!, d1!, d2!, d3!, d4!]);
    // Three are listed ahead; the fourth only once one of them is taken.
    expect(listed).toEqual([d0, d1, d2]);
    await settle();
    expect(names(prefetch.take(d1!))).toEqual(['d1-f0', 'd1-f1', 'd1-f2']);
    expect(listed).toEqual([d0, d1, d2, d3]);
    await settle();
    expect(names(prefetch.take(d3!))).toEqual(['d3-f0', 'd3-f1', 'd3-f2']);
    expect(names(prefetch.take(d0!))).toEqual(['d0-f0', 'd0-f1', 'd0-f2']);
    expect(names(prefetch.take(d2!))).toEqual(['d2-f0', 'd2-f1', 'd2-f2']);
    // d4 was started as d3 was taken, with no wait since: not in yet, so the walk lists it itself.
    expect(listed).toEqual([d0, d1, d2, d3, d4]);
    expect(prefetch.take(d4!)).toBeUndefined();
    expect(prefetch.take(join(work, 'never-expected'))).toBeUndefined();
  });

  test('lists what is expected later (a directory\'s subdirectories) before what was expected earlier', async () => {
    const [d0, d1, d2, d3, d4] = await dirs(5);
    const { prefetch, listed, settle } = watchedPrefetch();
    prefetch.expect([d0!, d1!]);
    await settle();
    prefetch.take(d0!);
    // d0's subdirectories come next in walk order, before d1.
    prefetch.expect([d2!, d3!, d4!]);
    expect(listed).toEqual([d0, d1, d2, d3]);
    await settle();
    expect(names(prefetch.take(d2!))).toEqual(['d2-f0', 'd2-f1', 'd2-f2']);
    expect(names(prefetch.take(d3!))).toEqual(['d3-f0', 'd3-f1', 'd3-f2']);
    expect(names(prefetch.take(d1!))).toEqual(['d1-f0', 'd1-f1', 'd1-f2']);
    expect(prefetch.take(d4!)).toBeUndefined();
  });

  test('a directory that cannot be listed is left to the walk, which meets the error itself', async () => {
    const [d0, d1] = await dirs(2);
    await rm(d0!, { recursive: true });
    const { prefetch, settle } = watchedPrefetch();
    prefetch.expect([d0!, d1!]);
    await settle();
    expect(prefetch.take(d0!)).toBeUndefined();
    expect(names(prefetch.take(d1!))).toEqual(['d1-f0', 'd1-f1', 'd1-f2']);
  });
});
