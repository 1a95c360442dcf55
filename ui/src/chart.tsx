/** The throughput line chart: uPlot on a canvas, sized to its box, fed new data as it comes. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { formatClock, formatNumber } from './format';
import type { ChartData } from './throughput';

const HEIGHT = 260;

/** What one point counts: the jobs of a second, or of a minute. */
export type ChartUnit = 'second' | 'minute';

function chartOptions(width: number, unit: ChartUnit): uPlot.Options {
  const per = (_: uPlot, value: number | null) =>
    value === null ? '—' : `${formatNumber(value)}/${unit === 'second' ? 's' : 'min'}`;
  return {
    width,
    height: HEIGHT,
    // The chart follows live data; a drag-zoom would be undone by the next answer.
    cursor: { drag: { x: false, y: false, setScale: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    series: [
      {
        label: 'time',
        value: (_u, value: number | null) => (value === null ? '—' : formatClock(value * 1000)),
      },
      // Three colours told apart without colour too: solid, long dashes, short dashes.
      { label: 'accepted', stroke: '#1d4ed8', width: 2, value: per },
      { label: 'completed', stroke: '#047857', width: 2, dash: [10, 4], value: per },
      { label: 'failed', stroke: '#b91c1c', width: 2, dash: [3, 3], value: per },
    ],
    axes: [
      { stroke: '#334155', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#cbd5e1' } },
      {
        label: `jobs per ${unit}`,
        stroke: '#334155',
        grid: { stroke: '#e2e8f0' },
        ticks: { stroke: '#cbd5e1' },
        size: 56,
      },
    ],
  };
}

/** A new unit makes a new chart (uPlot reads its axes once). */
export function ThroughputChart({
  data,
  summary,
  unit,
}: {
  data: ChartData;
  summary: string;
  unit: ChartUnit;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(data);
  latest.current = data;

  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    const chart = new uPlot(chartOptions(Math.max(200, element.clientWidth), unit), latest.current, element);
    plot.current = chart;
    // Sized to the box's width (the layout decides it), redrawn on the next frame.
    let frame = 0;
    const observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() =>
        chart.setSize({ width: Math.max(200, element.clientWidth), height: HEIGHT }),
      );
    });
    observer.observe(element);
    return () => {
      cancelAnimationFrame(frame);
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [unit]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div class="chart" ref={box} role="img" aria-label={summary} />;
}
