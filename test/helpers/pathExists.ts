import { lstatIfExists } from '@tsbuild/oci-layout';

/** Whether anything (a link included, not followed) is at `path`; an error other than ENOENT fails the test. */
export async function pathExists(path: string): Promise<boolean> {
  return (await lstatIfExists(path)) !== undefined;
}
