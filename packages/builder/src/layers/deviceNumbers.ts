/** Splits a Linux dev_t (as `stat().rdev` gives it) into the major and minor numbers a tar header holds. */
export function deviceNumbers(rdev: number): { devmajor: number; devminor: number } {
  return { devmajor: Math.floor(rdev / 256) & 0xfff, devminor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) };
}
