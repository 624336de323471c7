import { formatPlatform, samePlatform, type Platform } from '@tsbuild/oci-layout';
import { DockerfileError, type Instruction } from '../dockerfile/instructions.js';
import type { PlannedStage } from '../dockerfile/buildPlan.js';

/** Instructions this slice cannot execute are refused before any work is done. */
export function refuseUnsupported(instr: Instruction): void {
  if (instr.keyword === 'ADD' && instr.sources.some((s) => /^git:\/\//.test(s) || s.startsWith('git@') || /\.git(#.*)?$/.test(s))) {
    throw new DockerfileError('ADD from a git repository is not supported yet', instr.location, 'ADD');
  }
}

/** A stage's `FROM --platform`, else the build's. */
export function platformOf(planned: PlannedStage, buildPlatform: Platform): Platform {
  return planned.platform ?? buildPlatform;
}

/** Refuses, before any step runs, a plan this machine cannot execute. */
export function refuseUnexecutable(stages: PlannedStage[], platform: Platform, host: Platform): void {
  for (const planned of stages) {
    const stagePlatform = platformOf(planned, platform);
    for (const instr of planned.stage.instructions) {
      refuseUnsupported(instr);
      // Running another architecture's binaries would need emulation, which this builder does not set up.
      if (instr.keyword === 'RUN' && !samePlatform(stagePlatform, host)) {
        throw new DockerfileError(
          `cannot run commands for ${formatPlatform(stagePlatform)} on this ${formatPlatform(host)} machine (no emulation); only ${formatPlatform(host)} stages can RUN`,
          instr.location, 'RUN',
        );
      }
    }
  }
}
