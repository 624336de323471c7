import { render } from 'ink';
import type { Image } from '@tsbuild/oci-layout';
import type { BackgroundAnalysis } from './analysisProgress.js';
import { Explorer } from './Explorer.js';
import { renderTimingTo, TIMING_ENV } from './renderTiming.js';

const ALTERNATE_SCREEN_ON = '\x1b[?1049h';
const ALTERNATE_SCREEN_OFF = '\x1b[?1049l';

/**
 * Runs the explorer full screen (on the terminal's alternate screen, so the
 * shell's scrollback is left as it was) until the user quits, while the rest
 * of the image is analysed. Should that analysis fail, the explorer closes
 * and its error is thrown once the terminal is back as it was.
 */
export async function runExplorer(analysis: BackgroundAnalysis, image: Image): Promise<number> {
  const timing = renderTimingTo(process.env[TIMING_ENV]);
  process.stdout.write(ALTERNATE_SCREEN_ON);
  try {
    const instance = render(<Explorer analysis={analysis.progress} image={image} {...(timing && { timing })} />, {
      exitOnCtrlC: false,
      patchConsole: true,
      ...(timing && { onRender: timing.frameRendered }),
    });
    const failed = new Promise<never>((_, reject) => analysis.whole.catch(reject));
    try {
      await Promise.race([instance.waitUntilExit(), failed]);
    } finally {
      instance.unmount();
    }
    return 0;
  } finally {
    // A user who quits does not wait for the rest of the analysis.
    analysis.stop();
    process.stdout.write(ALTERNATE_SCREEN_OFF);
  }
}
