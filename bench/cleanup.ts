/**
 * The benchmark starts Azurite, the sandbox and the contenders as child processes. If it is
 * interrupted (Ctrl+C, SIGTERM), they would outlive it: this stops every child still registered.
 */
const children = new Set<number>();

/** Remembers a child process to stop if the benchmark is interrupted. */
export function registerChild(pid: number | undefined): void {
  if (pid) children.add(pid);
}

export function unregisterChild(pid: number | undefined): void {
  if (pid) children.delete(pid);
}

/** On SIGINT or SIGTERM: stop every registered child, then exit (130 / 143). */
export function stopChildrenOnSignal(): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      for (const pid of children) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      process.stderr.write(`bench: interrupted (${signal}); stopped ${children.size} child process(es)\n`);
      process.exit(code);
    });
  }
}
