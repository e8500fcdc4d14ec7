/**
 * Command-line flags through `node:util` parseArgs, as the rest of the repository parses them, with
 * its errors said in the words of our CLIs: the flag, and what it needs (`--world needs a file path`).
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

export type FlagValues<T extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false; allowNegative: true }>
>['values'];

/**
 * Parses `argv` (no positionals; `--no-x` sets a boolean `x` false, the last of the two wins). `needs` says, per flag that takes a value, what the value is; a
 * parse error becomes `usageError(message)`, naming the flag.
 */
export function parseFlags<T extends ParseArgsOptionsConfig>(
  argv: readonly string[],
  options: T,
  needs: Partial<Record<keyof T & string, string>>,
  usageError: (message: string) => Error,
): FlagValues<T> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false, allowNegative: true })
      .values;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? '';
    const bare = flag.replace(/^--?/, '');
    const name = (bare in options ? bare : bare.replace(/^no-/, '')) as keyof T & string;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw usageError(`unknown flag '${flag}'`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
      throw usageError(`unexpected argument '${/'([^']*)'/.exec(message)?.[1] ?? ''}'`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      if (options[name]?.type === 'boolean') throw usageError(`${flag} takes no value`);
      throw usageError(`${flag} needs ${needs[name] ?? 'a value'}`);
    }
    throw error;
  }
}
