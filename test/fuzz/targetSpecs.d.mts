export const TARGET_SPECS: Record<string, { name: string; corpora: string[]; shortRunInputs?: number }>;
