export interface FuzzFinding {
  target: string;
  index: number;
  kind: 'hang' | 'crash' | 'untyped-error' | 'escape' | 'chunking' | 'roundtrip' | 'harness';
  message: string;
  recipe: string;
  signature: string;
  file?: string;
}

export interface TargetResult {
  target: string;
  inputs: number;
  seconds: number;
  findings: FuzzFinding[];
}

export function runCampaign(options: {
  targets: string[];
  count: number;
  seconds?: number;
  seed: number;
  timeoutMs: number;
  crashDir?: string;
  skip?: Record<string, string[]>;
  maxFindings?: number;
  log?: (line: string) => void;
}): Promise<TargetResult[]>;

export function replay(target: string, file: string, timeoutMs: number, skip?: string[]): Promise<Omit<FuzzFinding, 'target' | 'index' | 'recipe' | 'signature'> | undefined>;

export const REPO_ROOT: string;
