import { describe, expect, it } from 'vitest';
import {
  latencyPoints,
  latencySummary,
  niceScale,
  outcomeCounts,
  percentile,
  ratePerSecond,
  svgTimeline,
  throughputPoints,
  timeBuckets,
  type Sample,
} from './report.ts';
import { parsePgbenchOutput } from './pgbench.ts';

const sample = (start: number, ms: number, outcome = 'HELD', op = 'reserve'): Sample => ({ op, start, ms, outcome });

/**
 * A strict check of the XML the plot writes: one root, every tag closed in order, every
 * attribute quoted, no raw `<` or bare `&` in text. Returns the elements in document order.
 */
function parseXml(xml: string): { name: string; attrs: Record<string, string>; text: string }[] {
  const elements: { name: string; attrs: Record<string, string>; text: string }[] = [];
  const stack: { name: string; attrs: Record<string, string>; text: string }[] = [];
  let roots = 0;
  let pos = 0;
  const checkText = (text: string) => {
    if (text.includes('<') || /&(?!(lt|gt|amp|quot|apos);)/.test(text)) throw new Error(`bad text: ${text}`);
  };
  for (const m of xml.matchAll(/<[^>]*>/g)) {
    const between = xml.slice(pos, m.index);
    checkText(between);
    if (stack.length) stack.at(-1)!.text += between;
    else if (between.trim()) throw new Error(`text outside the root: ${between}`);
    pos = m.index! + m[0].length;
    const tag = m[0];
    const close = /^<\/([\w-]+)\s*>$/.exec(tag);
    if (close) {
      const open = stack.pop();
      if (open?.name !== close[1]) throw new Error(`</${close[1]}> closes <${open?.name}>`);
      continue;
    }
    const open = /^<([\w-]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>$/.exec(tag);
    if (!open) throw new Error(`malformed tag: ${tag}`);
    const attrs: Record<string, string> = {};
    for (const a of open[2]!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (a[1]! in attrs) throw new Error(`attribute ${a[1]} twice in ${tag}`);
      checkText(a[2]!);
      attrs[a[1]!] = a[2]!;
    }
    const element = { name: open[1]!, attrs, text: '' };
    elements.push(element);
    if (stack.length === 0) roots++;
    if (!open[3]) stack.push(element);
  }
  if (xml.slice(pos).trim()) throw new Error('text after the root');
  if (stack.length) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return elements;
}

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('is the smallest value with at least p% of the list at or below it', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile([10, 20, 30], 50)).toBe(20);
    expect(percentile([10, 20, 30], 99)).toBe(30);
  });

  it('gives the only value of a one-element list and 0 for an empty one', () => {
    expect(percentile([7], 50)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 99)).toBe(0);
  });
});

describe('latencySummary and outcomeCounts', () => {
  it('sorts before taking percentiles and rounds to 0.1 ms', () => {
    expect(latencySummary([5, 1, 3, 2, 4].map((v) => v + 0.04))).toEqual({ count: 5, p50: 3, p95: 5, p99: 5, max: 5 });
    expect(latencySummary([])).toEqual({ count: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  });

  it('counts outcomes, most frequent first, ties by name', () => {
    const counts = outcomeCounts([
      sample(0, 1, 'SOLD_OUT'),
      sample(0, 1, 'HELD'),
      sample(0, 1, 'HELD'),
      sample(0, 1, 'BAD'),
    ]);
    expect(Object.entries(counts)).toEqual([
      ['HELD', 2],
      ['BAD', 1],
      ['SOLD_OUT', 1],
    ]);
  });
});

describe('timeBuckets', () => {
  it('puts each request in the second it finished, keeps empty seconds, and takes p99 per second', () => {
    const samples = [
      sample(0, 100), // finishes at 0.1 s
      sample(500, 400, 'SOLD_OUT'), // 0.9 s
      sample(200, 2_900), // 3.1 s
      ...Array.from({ length: 100 }, (_, i) => sample(3_000, i + 1, i % 2 ? 'HELD' : 'WAITLISTED')), // 3.001-3.1 s
    ];
    const buckets = timeBuckets(samples, (s) => s.outcome === 'HELD');
    expect(buckets.map((b) => b.t)).toEqual([0, 1, 2, 3]);
    expect(buckets.map((b) => b.perSecond)).toEqual([2, 0, 0, 101]);
    expect(buckets.map((b) => b.okPerSecond)).toEqual([1, 0, 0, 51]);
    // Second 3 holds latencies 1..100 and 2900: the 99th percentile of 101 values is the 100th.
    expect(buckets[3]!.p99).toBe(100);
    expect(buckets[0]!.p99).toBe(400);
    expect(buckets[1]!.p99).toBe(0);
  });

  it('scales counts to per second for narrower buckets', () => {
    const buckets = timeBuckets([sample(0, 100), sample(0, 200), sample(0, 600)], () => true, 500);
    expect(buckets.map((b) => [b.t, b.perSecond])).toEqual([
      [0, 4],
      [0.5, 2],
    ]);
  });

  it('has no buckets without samples', () => {
    expect(timeBuckets([], () => true)).toEqual([]);
  });

  it('leaves empty buckets out of latency points and earlier ones out of throughput points', () => {
    const buckets = timeBuckets([sample(0, 100), sample(2_000, 50)], () => true);
    expect(latencyPoints(buckets)).toEqual([
      [0, 100],
      [2, 50],
    ]);
    expect(throughputPoints(buckets, (b) => b.perSecond, 1)).toEqual([
      [1, 0],
      [2, 1],
    ]);
  });
});

describe('ratePerSecond', () => {
  it('counts events per whole second and ignores those outside the window', () => {
    expect(ratePerSecond([0, 999, 1000, 2500, -1, 3000], 3)).toEqual([2, 1, 1]);
  });
});

describe('niceScale', () => {
  it('rounds the axis up to 1, 2 or 5 times a power of ten per tick', () => {
    expect(niceScale(87)).toEqual({ max: 100, step: 20 });
    expect(niceScale(7.3)).toEqual({ max: 8, step: 2 });
    expect(niceScale(1234)).toEqual({ max: 1500, step: 500 });
    expect(niceScale(0)).toEqual({ max: 1, step: 0.2 });
  });
});

describe('svgTimeline', () => {
  const svg = svgTimeline({
    title: 'Rush <100 users> & "friends"',
    xLabel: 'seconds since the rush started',
    panels: [
      {
        yLabel: 'per second',
        series: [
          {
            name: 'responses/s',
            color: '#1f77b4',
            points: [
              [0, 10],
              [1, 80],
              [2, 40],
            ],
          },
          {
            name: 'holds/s',
            color: '#2ca02c',
            points: [
              [0, 5],
              [1, 20],
              [2, 0],
            ],
          },
        ],
      },
      {
        yLabel: 'p99 latency (ms)',
        series: [
          {
            name: 'reserve p99',
            color: '#d62728',
            points: [
              [0, 120],
              [2, 950],
            ],
          },
        ],
      },
    ],
  });
  const elements = parseXml(svg);

  it('is well-formed XML with one svg root in the SVG namespace', () => {
    expect(elements[0]).toMatchObject({ name: 'svg', attrs: { xmlns: 'http://www.w3.org/2000/svg' } });
  });

  it('draws one polyline per series, with every point, inside its panel', () => {
    const lines = elements.filter((e) => e.name === 'polyline');
    expect(lines.map((l) => l.attrs['data-series'])).toEqual(['responses/s', 'holds/s', 'reserve p99']);
    expect(lines.map((l) => l.attrs.points!.split(' ').length)).toEqual([3, 3, 2]);
    const height = Number(elements[0]!.attrs.height);
    for (const l of lines) {
      for (const p of l.attrs.points!.split(' ')) {
        const [x, y] = p.split(',').map(Number) as [number, number];
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(Number(elements[0]!.attrs.width));
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(height);
      }
    }
    // Higher values are drawn higher: holds/s 20 (at 1 s) above 0 (at 2 s).
    const ys = lines[1]!.attrs.points!.split(' ').map((p) => Number(p.split(',')[1]));
    expect(ys[1]).toBeLessThan(ys[2]!);
  });

  it('labels both y axes and the x axis, and escapes the title', () => {
    const texts = elements.filter((e) => e.name === 'text').map((e) => e.text);
    expect(texts).toContain('per second');
    expect(texts).toContain('p99 latency (ms)');
    expect(texts.filter((t) => t === 'seconds since the rush started')).toHaveLength(2);
    expect(texts).toContain('Rush &lt;100 users&gt; &amp; &quot;friends&quot;');
    // Tick labels of the top axis: 0 to its largest value, 80, in steps of 20; of the bottom one up to 1000.
    expect(texts).toEqual(expect.arrayContaining(['0', '20', '40', '60', '80', '200', '1000']));
    expect(texts).not.toContain('100');
  });
});

describe('parsePgbenchOutput', () => {
  it('reads the summary pgbench 15 prints', () => {
    const out = `transaction type: bench/sql/reserve.pgbench
scaling factor: 1
query mode: extended
number of clients: 40
number of threads: 2
maximum number of tries: 1
duration: 22 s
number of transactions actually processed: 6994
number of failed transactions: 0 (0.000%)
latency average = 125.833 ms
initial connection time = 61.123 ms
tps = 317.881234 (without initial connection time)
`;
    expect(parsePgbenchOutput(out)).toEqual({ transactions: 6994, failed: 0, latencyAvgMs: 125.833, tps: 317.881234 });
  });
});
