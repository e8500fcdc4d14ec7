/**
 * The scaling series as an SVG chart (no dependency): sweep time and the fleet process's peak RSS
 * against the total number of resources, on a logarithmic x axis.
 */

export interface SeriesPoint {
  multiplier: number;
  resources: number;
  firstSweepMs: number;
  repeatSweepMs: number;
  idealMs: number;
  peakRssMb: number;
}

const WIDTH = 460;
const HEIGHT = 320;
const MARGIN = { left: 62, right: 18, top: 40, bottom: 52 };
const COLORS = { first: '#1f77b4', repeat: '#2ca02c', ideal: '#7f7f7f', rss: '#d62728', limit: '#d62728' };

const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function compact(value: number): string {
  if (value >= 1_000_000) return `${value / 1_000_000}M`;
  if (value >= 1_000) return `${value / 1_000}k`;
  return String(value);
}

interface Line {
  label: string;
  color: string;
  values: number[];
  dashed?: boolean;
}

function panel(
  offsetX: number,
  title: string,
  unit: string,
  xs: number[],
  lines: Line[],
  yFloor = 0,
): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const logMin = Math.log10(Math.min(...xs));
  const logMax = Math.log10(Math.max(...xs));
  const span = logMax - logMin || 1;
  const x = (value: number): number =>
    offsetX +
    MARGIN.left +
    (xs.length === 1 ? plotWidth / 2 : ((Math.log10(value) - logMin) / span) * plotWidth);
  const yMax = niceMax(Math.max(yFloor, ...lines.flatMap((line) => line.values)));
  const y = (value: number): number => MARGIN.top + plotHeight - (value / yMax) * plotHeight;
  const parts: string[] = [];
  parts.push(
    `<text x="${offsetX + WIDTH / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escape(title)}</text>`,
  );
  for (let i = 0; i <= 4; i++) {
    const value = (yMax / 4) * i;
    parts.push(
      `<line x1="${offsetX + MARGIN.left}" x2="${offsetX + WIDTH - MARGIN.right}" y1="${y(value)}" y2="${y(value)}" stroke="#e5e5e5"/>`,
      `<text x="${offsetX + MARGIN.left - 6}" y="${y(value) + 4}" text-anchor="end" font-size="11">${Number(value.toFixed(2))}</text>`,
    );
  }
  for (const value of xs) {
    parts.push(
      `<line x1="${x(value)}" x2="${x(value)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#f0f0f0"/>`,
      `<text x="${x(value)}" y="${MARGIN.top + plotHeight + 16}" text-anchor="middle" font-size="11">${compact(value)}</text>`,
    );
  }
  parts.push(
    `<text x="${offsetX + MARGIN.left + plotWidth / 2}" y="${HEIGHT - 14}" text-anchor="middle" font-size="11">resources in total (log scale)</text>`,
    `<text x="${offsetX + 14}" y="${MARGIN.top + plotHeight / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 ${offsetX + 14} ${MARGIN.top + plotHeight / 2})">${escape(unit)}</text>`,
  );
  lines.forEach((line, index) => {
    const points = line.values.map((value, i) => `${x(xs[i]!).toFixed(1)},${y(value).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline fill="none" stroke="${line.color}" stroke-width="2"${line.dashed ? ' stroke-dasharray="5,4"' : ''} points="${points}"/>`,
    );
    if (!line.dashed) {
      for (const point of points.split(' ')) {
        const [px, py] = point.split(',');
        parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${line.color}"/>`);
      }
    }
    const legendY = MARGIN.top + 4 + index * 14;
    parts.push(
      `<line x1="${offsetX + MARGIN.left + 8}" x2="${offsetX + MARGIN.left + 26}" y1="${legendY}" y2="${legendY}" stroke="${line.color}" stroke-width="2"${line.dashed ? ' stroke-dasharray="5,4"' : ''}/>`,
      `<text x="${offsetX + MARGIN.left + 30}" y="${legendY + 4}" font-size="11">${escape(line.label)}</text>`,
    );
  });
  return parts.join('\n');
}

/** The chart of a series (at least one point). */
export function seriesChart(points: SeriesPoint[], subtitle: string): string {
  const xs = points.map((point) => point.resources);
  const seconds = (ms: number): number => ms / 1000;
  const time = panel(0, 'Sweep time', 'seconds', xs, [
    { label: 'first sweep', color: COLORS.first, values: points.map((p) => seconds(p.firstSweepMs)) },
    {
      label: 'repeat sweep (no changes)',
      color: COLORS.repeat,
      values: points.map((p) => seconds(p.repeatSweepMs)),
    },
    {
      label: 'ideal bound',
      color: COLORS.ideal,
      values: points.map((p) => seconds(p.idealMs)),
      dashed: true,
    },
  ]);
  const memory = panel(
    WIDTH,
    'Peak RSS of the fleet process',
    'MiB',
    xs,
    [
      { label: 'peak RSS', color: COLORS.rss, values: points.map((p) => p.peakRssMb) },
      { label: 'target: 300 MB', color: COLORS.limit, values: points.map(() => 300), dashed: true },
    ],
    300,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH * 2}" height="${HEIGHT + 24}" viewBox="0 0 ${WIDTH * 2} ${HEIGHT + 24}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    time,
    memory,
    `<text x="${WIDTH}" y="${HEIGHT + 16}" text-anchor="middle" font-size="11" fill="#555">${escape(subtitle)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
