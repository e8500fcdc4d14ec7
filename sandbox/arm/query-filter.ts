/** Compiles a list call's `$filter` with one of arm-filter.ts's compilers, as ARM's 400 on refusal. */
import { InvalidFilterError } from '../arm-filter.js';
import { ArmError } from './errors.js';

/** The compiled `$filter` of `url`, or undefined when there is none. */
export function compileQueryFilter<T>(compiler: (filter: string) => T, url: URL): T | undefined {
  const filter = url.searchParams.get('$filter');
  if (filter === null || filter.trim() === '') return undefined;
  try {
    return compiler(filter);
  } catch (error) {
    if (error instanceof InvalidFilterError) {
      throw new ArmError(
        400,
        'InvalidFilterInQueryString',
        `Invalid $filter '${filter}' specified in the query string.`,
      );
    }
    throw error;
  }
}
