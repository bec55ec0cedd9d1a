import { dictionary } from '@zxcvbn-ts/language-common';

/** The common-password list of zxcvbn-ts (about 49,000 entries, shipped in the package: no network). */
let common: ReadonlySet<string> | undefined;
const commonPasswords = (): ReadonlySet<string> => (common ??= new Set(dictionary['passwords-common']));

/**
 * Why a new password is refused, or null when it is acceptable: shorter than `minLength`, the
 * username itself, or on the common-password list (compared in lower case, so `Password123` is
 * as common as `password123`).
 */
export function passwordProblem(password: string, username: string, minLength: number): string | null {
  if (password.length < minLength) return `password must be at least ${minLength} characters`;
  const lower = password.toLowerCase();
  if (lower === username.toLowerCase()) return 'password must not be the username';
  if (commonPasswords().has(lower)) return 'password is too common; choose one that is not on lists of leaked passwords';
  return null;
}
