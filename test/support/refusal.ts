/** What `run` throws, or undefined when it returns: for asserting on a synchronous refusal's fields. */
export function refusal(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}
