// The chart of a report: throughput against worker threads and against batch size, p99
// latency against offered load, and the ratios to the peers, drawn by Vega-Lite (compiled to
// Vega, rendered to SVG in Node, no browser) and written as one self-contained HTML page with
// the machine header and the tables beside it, so that the chart and the table can be read
// together. vega and vega-lite are optional dependencies: without them the chart is skipped
// with a message, and the rest of the run is unaffected.

import type { Report } from './report.js';

/** vega or vega-lite is not installed. */
export class ChartUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('vega and vega-lite are not installed (optional dependencies of totp-fleet); chart skipped', options);
    this.name = 'ChartUnavailableError';
  }
}

/** The data points the chart draws, taken from the report's figures (also checked by tests). */
export interface ChartData {
  readonly threads: { threads: number; batch: number; kind: string; median: number; p25: number; p75: number }[];
  readonly batches: { batch: number; kind: string; median: number; p25: number; p75: number }[];
  readonly loads: { config: string; offered: number; p99ms: number; saturated: boolean }[];
  readonly ratios: { label: string; kind: string; ratio: number; low: number; high: number }[];
}

export function chartData(report: Pick<Report, 'figures' | 'loads' | 'checks'>): ChartData {
  const pick = (scenario: string) => report.figures.filter((f) => f.scenario === scenario);
  // Figures of our own code: a ratio over one of them (facade ÷ raw kernel) is not a ratio to a peer.
  const ours = new Set(report.figures.filter((f) => !f.reference).map((f) => f.id));
  return {
    // Only the verifyBatch figures, which name their thread count: the threads suite also measures
    // the raw kernel on the calling thread and in gangs of 1..N workers (its ceilings, no params),
    // which are not "verifyBatch at N worker threads" (they drew as threads 0 with batches of
    // 8,192 to 65,536 items, all called valid).
    threads: pick('threads').filter((f) => f.params.threads !== undefined).map((f) => ({
      threads: f.params.threads ?? 0, batch: f.params.batch ?? f.items, kind: f.params.kind ?? 'valid', median: f.median, p25: f.p25, p75: f.p75,
    })),
    batches: pick('batch-sizes').map((f) => ({
      batch: f.params.batch ?? f.items, kind: f.params.kind ?? 'valid', median: f.median, p25: f.p25, p75: f.p75,
    })),
    loads: report.loads.map((l) => ({ config: l.config, offered: l.offered, p99ms: l.p99 / 1000, saturated: l.saturated })),
    ratios: report.checks
      .filter((c) => c.scenario === 'throughput-vs-peers' && c.label.startsWith('facade (cache warm)') && !ours.has(c.from?.[1] ?? ''))
      .map((c) => ({
        label: c.label.replace(/^facade \(cache warm\) ÷ /, '').replace(/, (valid|invalid)$/, ''),
        kind: /invalid$/.test(c.label) ? 'invalid' : 'valid',
        ratio: c.measured, low: c.low, high: c.high,
      })),
  };
}

const WIDTH = 360;
/** The same two colours for valid and invalid codes in every panel. */
const KIND_COLOR = { field: 'kind', type: 'nominal', title: 'codes', scale: { domain: ['valid', 'invalid'], range: ['#1f77b4', '#d62728'] } };
const HEIGHT = 220;
const RATE_AXIS = { title: 'verifies per second (median, p25–p75)', format: '~s' };

/** The Vega-Lite specification (exported for tests and for anyone who wants to re-style it). */
export function chartSpec(data: ChartData): Record<string, unknown> {
  const errorBars = (x: Record<string, unknown>) => ({
    mark: { type: 'rule' },
    encoding: { x, y: { field: 'p25', type: 'quantitative' }, y2: { field: 'p75' }, color: KIND_COLOR },
  });
  const panels: Record<string, unknown>[] = [];
  if (data.threads.length > 0) {
    const x = { field: 'threads', type: 'ordinal', title: 'worker threads (0 = inline on the calling thread)' };
    panels.push({
      title: `Throughput by worker threads (batches of ${[...new Set(data.threads.map((d) => d.batch.toLocaleString('en-US')))].join(', ')})`,
      width: WIDTH, height: HEIGHT,
      data: { values: data.threads },
      layer: [
        { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'median', type: 'quantitative', axis: RATE_AXIS, title: RATE_AXIS.title }, color: KIND_COLOR, strokeDash: { field: 'batch', type: 'ordinal', title: 'batch' } } },
        errorBars(x),
      ],
    });
  }
  if (data.batches.length > 0) {
    const x = { field: 'batch', type: 'quantitative', scale: { type: 'log' }, title: 'items per verifyBatch call (log)', axis: { format: '~s' } };
    panels.push({
      title: 'Throughput by batch size (default options)',
      width: WIDTH, height: HEIGHT,
      data: { values: data.batches },
      layer: [
        { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'median', type: 'quantitative', title: RATE_AXIS.title, axis: { format: '~s' } }, color: KIND_COLOR } },
        errorBars(x),
      ],
    });
  }
  if (data.loads.length > 0) {
    panels.push({
      title: 'Single verify() p99 latency by offered load',
      width: WIDTH, height: HEIGHT,
      data: { values: data.loads },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'offered', type: 'quantitative', scale: { type: 'log' }, title: 'offered verify() calls per second (log)', axis: { format: '~s' } },
        y: { field: 'p99ms', type: 'quantitative', scale: { type: 'log' }, title: 'p99 latency, ms (log)' },
        color: { field: 'config', type: 'nominal', title: 'configuration' },
        shape: { field: 'saturated', type: 'nominal', title: 'saturated' },
      },
    });
  }
  if (data.ratios.length > 0) {
    panels.push({
      title: 'Facade (cache warm, one thread) ÷ peer, same 10,000 secrets',
      width: WIDTH, height: HEIGHT,
      data: { values: data.ratios },
      // Bars start at 1× (a log scale has no zero); the rule is the p25–p75 of the rounds.
      layer: [
        { mark: { type: 'bar' }, encoding: { y: { field: 'label', type: 'nominal', title: null }, yOffset: { field: 'kind', sort: ['valid', 'invalid'] }, x: { field: 'ratio', type: 'quantitative', scale: { type: 'log', domainMin: 1 }, title: 'times faster (log; median of per-round ratios, p25–p75)' }, x2: { datum: 1 }, color: KIND_COLOR } },
        { mark: { type: 'rule', color: 'black' }, encoding: { y: { field: 'label', type: 'nominal' }, yOffset: { field: 'kind', sort: ['valid', 'invalid'] }, x: { field: 'low', type: 'quantitative' }, x2: { field: 'high' } } },
        { mark: { type: 'text', align: 'left', dx: 4 }, encoding: { y: { field: 'label', type: 'nominal' }, yOffset: { field: 'kind', sort: ['valid', 'invalid'] }, x: { field: 'high', type: 'quantitative' }, text: { field: 'ratio', type: 'quantitative', format: '.1f' } } },
      ],
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    columns: 2,
    concat: panels,
    resolve: { scale: { color: 'independent', strokeDash: 'independent', shape: 'independent' } },
    config: { font: 'sans-serif', view: { stroke: '#ccc' }, legend: { labelLimit: 320 } },
  };
}

/** The chart as an SVG document. Throws ChartUnavailableError without vega / vega-lite. */
export async function renderSvg(report: Pick<Report, 'figures' | 'loads' | 'checks'>): Promise<string> {
  let vega: typeof import('vega');
  let vl: typeof import('vega-lite');
  try {
    [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  } catch (cause) {
    throw new ChartUnavailableError({ cause });
  }
  const spec = vl.compile(chartSpec(chartData(report)) as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained HTML page: the machine, the chart (inline SVG), and the report's tables. */
export function htmlPage(svg: string, reportText: string, title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1200px}pre{font-size:12px;background:#f6f6f6;padding:1em;overflow-x:auto}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
${svg}
<h2>The report</h2>
<pre>${escapeHtml(reportText)}</pre>
</body></html>
`;
}
