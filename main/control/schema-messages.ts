/**
 * Schema errors as sentences: the router (bad bridge arguments), the library (a config that does
 * not match its schema) and the registry all say "field.path: what is wrong".
 *
 * Runtime: Node.
 */
import type { z } from 'zod';

/** Turns zod issues into one sentence a person can act on (first five issues). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}
