/**
 * The sweep schedule (six-field NCRONTAB, UTC): what it accepts, the setting it names when it cannot
 * read an expression, and the next occurrence the overview shows and the local serve mode fires.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/platform/errors.js';
import { Schedule } from '../../../src/core/platform/schedule.js';

const at = (iso: string): Date => new Date(iso);

function refusal(expression: string): unknown {
  try {
    new Schedule(expression);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('Schedule', () => {
  it('finds the next occurrence strictly after a time', () => {
    const sixHourly = new Schedule('0 0 */6 * * *');
    expect(sixHourly.next(at('2030-06-01T05:59:59.500Z'))).toEqual(at('2030-06-01T06:00:00.000Z'));
    expect(sixHourly.next(at('2030-06-01T06:00:00.000Z'))).toEqual(at('2030-06-01T12:00:00.000Z'));
    expect(sixHourly.next(at('2030-06-01T18:00:01.000Z'))).toEqual(at('2030-06-02T00:00:00.000Z'));
    expect(new Schedule('*/15 * * * * *').next(at('2030-06-01T00:00:14.999Z'))).toEqual(
      at('2030-06-01T00:00:15.000Z'),
    );
    expect(new Schedule('30 5 * * * *').next(at('2030-06-01T10:05:31.000Z'))).toEqual(
      at('2030-06-01T11:05:30.000Z'),
    );
  });

  it('reads lists, ranges, stepped ranges and open steps in every field', () => {
    // 10:30 and 14:30 on weekdays (Mon-Fri) in the first half of the month, in March or April.
    const schedule = new Schedule(' 0 30 10,14 1-15 3/1 1-5/1 ');
    expect(schedule.next(at('2030-02-20T00:00:00Z'))).toEqual(at('2030-03-01T10:30:00Z')); // a Friday
    expect(schedule.next(at('2030-03-01T10:30:00Z'))).toEqual(at('2030-03-01T14:30:00Z'));
    expect(schedule.next(at('2030-03-01T14:30:00Z'))).toEqual(at('2030-03-04T10:30:00Z')); // Monday
    expect(schedule.next(at('2030-03-15T14:30:00Z'))).toEqual(at('2030-04-01T10:30:00Z'));
    expect(new Schedule('0 0 0 1 1 *').next(at('2030-06-01T00:00:00Z'))).toEqual(at('2031-01-01T00:00:00Z'));
    expect(new Schedule('0 10-50/20 * * * *').next(at('2030-06-01T00:30:00Z'))).toEqual(
      at('2030-06-01T00:50:00Z'),
    );
    expect(new Schedule('59 59 23 31 12 *').next(at('2030-12-31T23:59:58Z'))).toEqual(
      at('2030-12-31T23:59:59Z'),
    );
  });

  it('has no occurrence within a year for a day that never comes', () => {
    expect(new Schedule('0 0 0 31 2 *').next(at('2030-01-01T00:00:00Z'))).toBeUndefined();
  });

  it('refuses what it cannot read, naming the setting, the expression and the part', () => {
    const cases: Array<[string, string]> = [
      ['0 0 * * *', "'0 0 * * *' does not have six fields"],
      ['0 0 * * * * *', 'does not have six fields'],
      ['0 0 1-x * * *', "cannot read '1-x'"],
      ['0 0 */0 * * *', "'*/0' is outside 0-23"],
      ['60 0 * * * *', "'60' is outside 0-59"],
      ['0 0 * 0 * *', "'0' is outside 1-31"],
      ['0 0 * * 13 *', "'13' is outside 1-12"],
      ['0 0 * * * 7', "'7' is outside 0-6"],
      ['0 0 5-3 * * *', "'5-3' is outside 0-23"],
      ['0 0 ,1 * * *', "cannot read ''"],
      ['0 0 a5 * * *', "cannot read 'a5'"],
      ['0 0 5x * * *', "cannot read '5x'"],
    ];
    for (const [expression, message] of cases) {
      const error = refusal(expression);
      expect(error, expression).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ setting: 'TENANT_FLEET_SWEEP_SCHEDULE' });
      expect((error as Error).message, expression).toContain(message);
    }
    expect(new Schedule('0 0 */6 * * *').expression).toBe('0 0 */6 * * *');
    // Fields are separated by any run of whitespace.
    expect(new Schedule('0  0\t*/6 * * *').next(at('2030-06-01T05:00:00Z'))).toEqual(
      at('2030-06-01T06:00:00Z'),
    );
  });
});
