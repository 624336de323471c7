export const KNOWN_AFTER_MERGE: Record<string, string[]>;
