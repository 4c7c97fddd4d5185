// PromQL as the dashboards and alert rules use it: the metric names an expression reads, and the
// names the processes export (read from their own registry, never listed), so a chart or an alert
// on a renamed or missing metric fails a test.
import { exportedNames, parseMetrics } from './metrics.ts';

/**
 * The processes' own metrics: every module the processes load registers its metrics in the process
 * registry on import.
 */
export async function metricNamesExported(): Promise<Set<string>> {
  await Promise.all([
    import('../../gateway/src/service.ts'),
    import('../../subgraphs/auth/src/service.ts'),
    import('../../subgraphs/booking/src/service.ts'),
    import('../../subgraphs/search/src/service.ts'),
    import('../../subgraphs/payment/src/service.ts'),
    import('../../subgraphs/payment/src/provider/simulator.ts'),
  ]);
  const { metricsRegistry } = await import('@tatkal/common');
  return exportedNames(parseMetrics(await metricsRegistry.metrics()).types);
}

// PromQL words that are not metric names: functions, aggregations, operators, modifiers.
const PROMQL_WORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'topk',
  'bottomk',
  'quantile',
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'histogram_quantile',
  'abs',
  'clamp_min',
  'clamp_max',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'time',
  'vector',
  'scalar',
  'label_replace',
]);

/**
 * The metric names a PromQL expression reads (label matchers, ranges, grouping lists and Grafana
 * variables removed).
 */

export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ');
  const words = bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return words.filter((w) => !PROMQL_WORDS.has(w));
}
