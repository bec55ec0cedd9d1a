export const INPUTS: readonly string[];
export const OUTPUTS: readonly string[];
export const STAMP: string;
export function fingerprint(root: string): string;
export function upToDate(root: string, print?: string): boolean;
export function stamp(root: string, print: string): void;
