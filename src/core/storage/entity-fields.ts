/** Reading Table entity properties, which arrive untyped: a string property or '' (never '[object Object]'). */
export function text(value: unknown, fallback = ''): string {
  return typeof value === 'string'
    ? value
    : typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : fallback;
}
