import { render } from 'ink';
import type { Image } from '@tsbuild/oci-layout';
import type { ImageAnalysis } from '../analysis/analyzeImage.js';
import { Explorer } from './Explorer.js';
import { renderTimingTo, TIMING_ENV } from './renderTiming.js';

const ALTERNATE_SCREEN_ON = '\x1b[?1049h';
const ALTERNATE_SCREEN_OFF = '\x1b[?1049l';

/**
 * Runs the explorer full screen (on the terminal's alternate screen, so the
 * shell's scrollback is left as it was) until the user quits.
 */
export async function runExplorer(analysis: ImageAnalysis, image: Image): Promise<number> {
  const timing = renderTimingTo(process.env[TIMING_ENV]);
  process.stdout.write(ALTERNATE_SCREEN_ON);
  try {
    const instance = render(<Explorer analysis={analysis} image={image} {...(timing && { timing })} />, {
      exitOnCtrlC: false,
      patchConsole: true,
      ...(timing && { onRender: timing.frameRendered }),
    });
    await instance.waitUntilExit();
    return 0;
  } finally {
    process.stdout.write(ALTERNATE_SCREEN_OFF);
  }
}
