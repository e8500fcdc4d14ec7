/** What the Table service answered, as the SDK reports it. */
import { RestError } from '@azure/data-tables';

/** True when `error` is the service's answer with one of these HTTP statuses. */
export function hasStatus(error: unknown, ...statuses: number[]): boolean {
  return error instanceof RestError && statuses.includes(error.statusCode ?? 0);
}
