/**
 * The sweep schedule: a six-field NCRONTAB expression (`sec min hour day month weekday`), the format the
 * Functions timer trigger takes. The app computes the next occurrence itself so the overview can say
 * when the next sweep is, and the local serve mode can fire the timer on the same schedule.
 * Supports `*`, `*\/n`, `a`, `a-b`, `a-b/n` and comma lists (what the host documents); times are UTC.
 */
import { ConfigError } from './errors.js';

interface Field {
  min: number;
  max: number;
}

const FIELDS: Field[] = [
  { min: 0, max: 59 }, // second
  { min: 0, max: 59 }, // minute
  { min: 0, max: 23 }, // hour
  { min: 1, max: 31 }, // day of month
  { min: 1, max: 12 }, // month
  { min: 0, max: 6 }, // day of week (0 = Sunday)
];

function parseField(text: string, field: Field, expression: string): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!match)
      throw new ConfigError('TENANT_FLEET_SWEEP_SCHEDULE', `'${expression}': cannot read '${part}'`);
    const from = match[1] === '*' ? field.min : Number(match[2]);
    const to =
      match[1] === '*' ? field.max : match[3] !== undefined ? Number(match[3]) : match[4] ? field.max : from;
    const step = match[4] ? Number(match[4]) : 1;
    if (from < field.min || to > field.max || from > to || step < 1)
      throw new ConfigError(
        'TENANT_FLEET_SWEEP_SCHEDULE',
        `'${expression}': '${part}' is outside ${field.min}-${field.max}`,
      );
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}

export class Schedule {
  private readonly fields: Set<number>[];

  constructor(readonly expression: string) {
    const parts = expression.trim().split(/\s+/);
    if (parts.length !== 6)
      throw new ConfigError('TENANT_FLEET_SWEEP_SCHEDULE', `'${expression}' does not have six fields`);
    this.fields = parts.map((part, index) => parseField(part, FIELDS[index]!, expression));
  }

  private matches(date: Date): boolean {
    const [second, minute, hour, day, month, weekday] = this.fields as [
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
    ];
    return (
      second.has(date.getUTCSeconds()) &&
      minute.has(date.getUTCMinutes()) &&
      hour.has(date.getUTCHours()) &&
      day.has(date.getUTCDate()) &&
      month.has(date.getUTCMonth() + 1) &&
      weekday.has(date.getUTCDay())
    );
  }

  /**
   * The first occurrence strictly after `after`, or undefined if none within a year. Whole minutes and
   * hours that cannot match are skipped, so a daily schedule costs a few thousand steps, not millions.
   */
  next(after: Date): Date | undefined {
    const [seconds, minutes, hours] = this.fields as [Set<number>, Set<number>, Set<number>];
    let time = Math.floor(after.getTime() / 1000) * 1000 + 1000;
    const limit = after.getTime() + 366 * 24 * 3600 * 1000;
    while (time <= limit) {
      const date = new Date(time);
      if (!hours.has(date.getUTCHours())) {
        time = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(), date.getUTCHours() + 1);
        continue;
      }
      if (!minutes.has(date.getUTCMinutes())) {
        time =
          Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(), date.getUTCHours()) +
          (date.getUTCMinutes() + 1) * 60_000;
        continue;
      }
      if (seconds.has(date.getUTCSeconds()) && this.matches(date)) return date;
      time += 1000;
    }
    return undefined;
  }
}
