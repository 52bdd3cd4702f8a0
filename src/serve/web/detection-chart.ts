// Detections over time: one bar per time bucket (the store's counts for the filters in force),
// drawn by uPlot on a canvas. The figure is described in text beside it for screen readers.

import uPlot from 'uplot';
import type { StatsResponse } from '../dashboard-api-types.ts';
import { h, replaceChildren } from './dom-builder.ts';
import { formatCount, formatTime } from './display-text.ts';

/** Most buckets drawn (empty ones between non-empty ones included). */
const MAX_POINTS = 2000;
const HEIGHT = 200;

export class DetectionChart {
  private plot: uPlot | undefined;
  /**
   * The x range in seconds: the first and last bucket with one bucket of margin each side. Set
   * from the data, not from uPlot's guess: for a single point it spans 1,000 days.
   */
  private xRange: [number, number] = [0, 60];
  private readonly canvasBox: HTMLDivElement;

  constructor(private readonly container: HTMLElement, private readonly summary: HTMLElement) {
    this.canvasBox = h('div', { className: 'chart-canvas' });
    container.appendChild(this.canvasBox);
    new ResizeObserver(() => { this.plot?.setSize({ width: this.width(), height: HEIGHT }); }).observe(container);
  }

  private width(): number {
    return Math.max(300, this.container.clientWidth);
  }

  /** The series with empty buckets filled in, from the first bucket (or `since`) to the last (or now). */
  private series(stats: StatsResponse, since: number | undefined, now: number): [number[], number[]] {
    const step = stats.bucketMs;
    const counts = new Map(stats.buckets.map((b) => [Date.parse(b.start), b.count]));
    const starts = [...counts.keys()];
    const first = Math.min(...starts, ...(since === undefined ? [] : [Math.floor(since / step) * step]));
    const last = Math.max(...starts, Math.floor(now / step) * step);
    const xs: number[] = [];
    const ys: number[] = [];
    if (step > 0 && (last - first) / step <= MAX_POINTS) {
      for (let t = first; t <= last; t += step) {
        xs.push(t / 1000);
        ys.push(counts.get(t) ?? 0);
      }
    } else {
      for (const b of stats.buckets) {
        xs.push(Date.parse(b.start) / 1000);
        ys.push(b.count);
      }
    }
    return [xs, ys];
  }

  render(stats: StatsResponse, since: number | undefined, now: number): void {
    if (stats.total === 0 || stats.buckets.length === 0) {
      this.plot?.destroy();
      this.plot = undefined;
      replaceChildren(this.summary, 'No detection matches the filters.');
      this.canvasBox.hidden = true;
      return;
    }
    this.canvasBox.hidden = false;
    const data = this.series(stats, since, now);
    const step = Math.max(1, stats.bucketMs / 1000);
    this.xRange = [(data[0][0] ?? 0) - step, (data[0][data[0].length - 1] ?? 0) + step];
    const busiest = stats.buckets.reduce((a, b) => (b.count > a.count ? b : a));
    replaceChildren(this.summary,
      `${formatCount(stats.total)} detection${stats.total === 1 ? '' : 's'} from ${stats.first === null ? '?' : formatTime(stats.first)} to ${stats.last === null ? '?' : formatTime(stats.last)}, `
      + `in buckets of ${bucketName(stats.bucketMs)}; the busiest began ${formatTime(busiest.start)} with ${formatCount(busiest.count)}.`);
    if (this.plot !== undefined) {
      this.plot.setData(data, true);
      return;
    }
    const bars = uPlot.paths.bars?.({ size: [0.8, 48], align: 1 });
    this.plot = new uPlot({
      width: this.width(),
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: () => this.xRange }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [
        { stroke: '#3d4451', grid: { stroke: '#e6e8ec' }, ticks: { stroke: '#c9ced6' } },
        { stroke: '#3d4451', grid: { stroke: '#e6e8ec' }, ticks: { stroke: '#c9ced6' }, values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? String(t) : '')) },
      ],
      series: [
        {},
        { label: 'detections', stroke: '#b4361f', fill: 'rgba(214, 69, 42, 0.55)', width: 1, ...(bars === undefined ? {} : { paths: bars }), points: { show: false } },
      ],
    }, data, this.canvasBox);
  }
}

function bucketName(ms: number): string {
  if (ms % 86_400_000 === 0) return `${String(ms / 86_400_000)} d`;
  if (ms % 3_600_000 === 0) return `${String(ms / 3_600_000)} h`;
  if (ms % 60_000 === 0) return `${String(ms / 60_000)} min`;
  return `${String(ms / 1000)} s`;
}
