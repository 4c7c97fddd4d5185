// The numbers and pictures of a benchmark report: latency summaries, outcome counts, one-second
// buckets over time and a hand-written SVG of them. Pure functions (unit-tested in report.test.ts).
/**
 * The p-th percentile of an ascending list, nearest rank: the smallest value with at least p% of
 * the list at or below it.
 */
export const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]! : 0;

/** One finished request: `start` in ms since the run's t0, `ms` its latency, `outcome` HELD / an error code / ... */
export interface Sample {
  op: string;
  start: number;
  ms: number;
  outcome: string;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

const round = (v: number, digits = 1) => +v.toFixed(digits);

export function latencySummary(ms: number[]): LatencySummary {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? 0),
  };
}

/** Outcome -> count, most frequent first. */
export function outcomeCounts(samples: Pick<Sample, 'outcome'>[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(s.outcome, (counts.get(s.outcome) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

export interface Bucket {
  /** Bucket start, seconds since t0. */
  t: number;
  /** Requests that finished in this bucket, per second. */
  perSecond: number;
  /** Of those, the ones `isOk` accepts, per second. */
  okPerSecond: number;
  /** p99 latency of the requests that finished in this bucket (0 if none). */
  p99: number;
}

/**
 * Groups samples by the bucket in which they finished (start + ms), `bucketMs` wide, from t0 to
 * the last finish; empty buckets are kept (zero throughput is information).
 */
export function timeBuckets(samples: Sample[], isOk: (s: Sample) => boolean, bucketMs = 1000): Bucket[] {
  if (samples.length === 0) return [];
  const end = Math.max(...samples.map((s) => s.start + s.ms));
  const n = Math.floor(end / bucketMs) + 1;
  const latencies: number[][] = Array.from({ length: n }, () => []);
  const ok = new Array<number>(n).fill(0);
  for (const s of samples) {
    const i = Math.floor((s.start + s.ms) / bucketMs);
    latencies[i]!.push(s.ms);
    if (isOk(s)) ok[i]!++;
  }
  const perSecond = (count: number) => round((count * 1000) / bucketMs, 2);
  return latencies.map((l, i) => ({
    t: (i * bucketMs) / 1000,
    perSecond: perSecond(l.length),
    okPerSecond: perSecond(ok[i]!),
    p99: round(
      percentile(
        l.sort((a, b) => a - b),
        99,
      ),
    ),
  }));
}

/** Throughput points of buckets from `fromS` on (before an operation started, its zeros mean nothing). */
export const throughputPoints = (buckets: Bucket[], pick: (b: Bucket) => number, fromS = 0): [number, number][] =>
  buckets.filter((b) => b.t >= fromS).map((b) => [b.t, pick(b)]);

/** p99 points of the buckets in which something finished (an empty bucket has no latency, not zero). */
export const latencyPoints = (buckets: Bucket[]): [number, number][] =>
  buckets.filter((b) => b.perSecond > 0).map((b) => [b.t, b.p99]);

/** Events per second in one-second buckets (e.g. bookings confirmed), over [0, seconds). */
export function ratePerSecond(eventTimesMs: number[], seconds: number): number[] {
  const counts = new Array<number>(Math.max(0, Math.ceil(seconds))).fill(0);
  for (const t of eventTimesMs) {
    const i = Math.floor(t / 1000);
    if (i >= 0 && i < counts.length) counts[i]!++;
  }
  return counts;
}

export interface Series {
  name: string;
  /** [x, y] in data units (x: seconds). */
  points: [number, number][];
  color: string;
}

export interface Panel {
  yLabel: string;
  series: Series[];
}

const escapeXml = (s: string) =>
  s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

/** A "nice" axis maximum and tick step: 1, 2 or 5 times a power of ten. */
export function niceScale(max: number, ticks = 5): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 0.2 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  return { max: Math.ceil(max / step) * step, step };
}

const fmt = (v: number) =>
  Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : String(+v.toPrecision(3));

/**
 * Panels stacked vertically, sharing the x axis (seconds): each with its own labelled y axis,
 * grid lines, and one polyline per series (`data-series` names it), plus a legend.
 */
export function svgTimeline(opts: {
  title: string;
  xLabel: string;
  panels: Panel[];
  width?: number;
  panelHeight?: number;
}): string {
  const width = opts.width ?? 900;
  const panelHeight = opts.panelHeight ?? 240;
  const margin = { left: 70, right: 20, top: 40, gap: 60, bottom: 50 };
  const plotW = width - margin.left - margin.right;
  const height = margin.top + opts.panels.length * panelHeight + (opts.panels.length - 1) * margin.gap + margin.bottom;
  const xMaxData = Math.max(1, ...opts.panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x))));
  const xs = niceScale(xMaxData, 10);
  const x = (v: number) => margin.left + (v / xs.max) * plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"` +
      ' font-family="sans-serif" font-size="12">',
    `<rect x="0" y="0" width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(opts.title)}</text>`,
  ];
  opts.panels.forEach((panel, pi) => {
    const top = margin.top + pi * (panelHeight + margin.gap);
    const bottom = top + panelHeight;
    const yMaxData = Math.max(0, ...panel.series.flatMap((s) => s.points.map(([, y]) => y)));
    const ys = niceScale(yMaxData);
    const y = (v: number) => bottom - (v / ys.max) * panelHeight;
    out.push(`<g class="panel" data-y-label="${escapeXml(panel.yLabel)}">`);
    for (let v = 0; v <= ys.max + ys.step / 2; v += ys.step) {
      out.push(
        `<line x1="${margin.left}" y1="${y(v).toFixed(1)}" x2="${width - margin.right}" y2="${y(v).toFixed(1)}"` +
          ' stroke="#e5e5e5"/>',
      );
      out.push(`<text x="${margin.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
    }
    for (let v = 0; v <= xs.max + xs.step / 2; v += xs.step) {
      out.push(
        `<line x1="${x(v).toFixed(1)}" y1="${bottom}" x2="${x(v).toFixed(1)}" y2="${bottom + 5}" stroke="black"/>`,
      );
      out.push(`<text x="${x(v).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${fmt(v)}</text>`);
    }
    out.push(`<line x1="${margin.left}" y1="${top}" x2="${margin.left}" y2="${bottom}" stroke="black"/>`);
    out.push(`<line x1="${margin.left}" y1="${bottom}" x2="${width - margin.right}" y2="${bottom}" stroke="black"/>`);
    out.push(
      `<text transform="translate(18 ${top + panelHeight / 2}) rotate(-90)" text-anchor="middle">` +
        `${escapeXml(panel.yLabel)}</text>`,
    );
    out.push(
      `<text x="${margin.left + plotW / 2}" y="${bottom + 36}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`,
    );
    panel.series.forEach((s, si) => {
      const points = s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
      out.push(
        `<polyline data-series="${escapeXml(s.name)}" fill="none" stroke="${escapeXml(s.color)}"` +
          ` stroke-width="1.5" points="${points}"/>`,
      );
      const ly = top + 4 + si * 16;
      out.push(
        `<line x1="${width - margin.right - 150}" y1="${ly + 6}" x2="${width - margin.right - 130}" y2="${ly + 6}"` +
          ` stroke="${escapeXml(s.color)}" stroke-width="2"/>`,
      );
      out.push(`<text x="${width - margin.right - 125}" y="${ly + 10}">${escapeXml(s.name)}</text>`);
    });
    out.push('</g>');
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** A Markdown table. */
export function mdTable(headers: string[], rows: (string | number)[][]): string[] {
  return [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

/** "HELD 12, SOLD_OUT 3" */
export const formatCounts = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || '-';
