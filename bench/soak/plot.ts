/**
 * The soak's throughput plot: jobs acknowledged and completed per 5 s over the run, with each
 * fault drawn as a band from its start to its undoing, coloured by kind. Drawn with pureimage
 * (pure JavaScript, no native build, no browser); labels use DejaVu Sans when the machine has it
 * (Debian's fonts-dejavu-core), and the plot is drawn without text otherwise.
 */
import { createWriteStream, existsSync } from 'node:fs';
import * as PImage from 'pureimage';
import type { FaultRecord } from './checker.js';
import { FAULT_KINDS, type FaultKind } from './schedule.js';

export const KIND_COLOURS: Record<FaultKind, string> = {
  'worker-kill': '#d62728',
  'worker-stop': '#ff7f0e',
  'worker-cut': '#bcbd22',
  'manager-kill': '#9467bd',
  'beanstalkd-kill': '#8c564b',
  'store-kill': '#e377c2',
  'store-pause': '#17becf',
};

const FONT_PATHS = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/TTF/DejaVuSans.ttf',
];

const bucketOf = (perSecond: number[], seconds: number, width: number) =>
  Array.from({ length: Math.ceil(seconds / width) }, (_, b) => {
    let sum = 0;
    for (let s = b * width; s < (b + 1) * width; s += 1) sum += perSecond[s] ?? 0;
    return sum / width;
  });

export async function plotThroughput(options: {
  path: string;
  t0: number;
  seconds: number;
  acked: number[];
  completed: number[];
  faults: FaultRecord[];
  title: string;
}): Promise<void> {
  const W = 1200;
  const H = 520;
  const left = 60;
  const right = 20;
  const top = 40;
  const bottom = 90;
  const img = PImage.make(W, H);
  const ctx = img.getContext('2d');
  const fontPath = FONT_PATHS.find((p) => existsSync(p));
  let text = false;
  if (fontPath) {
    await PImage.registerFont(fontPath, 'Soak').load();
    text = true;
  }
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, W, H);
  const width = 5;
  const acked = bucketOf(options.acked, options.seconds, width);
  const completed = bucketOf(options.completed, options.seconds, width);
  const yMax = Math.max(1, ...acked, ...completed) * 1.1;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const x = (second: number) => left + (second / Math.max(1, options.seconds)) * plotW;
  const y = (value: number) => top + plotH - (value / yMax) * plotH;
  // Fault bands (at least 2 px wide, so a cut shows).
  for (const fault of options.faults) {
    const from = (fault.startedAt - options.t0) / 1000;
    const to = (fault.restoredAt + (fault.recoveryMs ?? 0) - options.t0) / 1000;
    ctx.fillStyle = KIND_COLOURS[fault.kind];
    ctx.globalAlpha = 0.35;
    ctx.fillRect(x(from), top, Math.max(2, x(to) - x(from)), plotH);
    ctx.globalAlpha = 1;
  }
  // Axes and grid.
  ctx.strokeStyle = '#888888';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(left, top);
  ctx.lineTo(left, top + plotH);
  ctx.lineTo(left + plotW, top + plotH);
  ctx.stroke();
  if (text) {
    ctx.font = '12pt Soak';
    ctx.fillStyle = '#000000';
    ctx.fillText(options.title, left, 24);
    for (let i = 0; i <= 4; i += 1) {
      const v = (yMax / 4) * i;
      ctx.fillText(v.toFixed(0), 8, y(v) + 4);
    }
    const step = options.seconds > 900 ? 300 : 60;
    for (let s = 0; s <= options.seconds; s += step) ctx.fillText(`${s / 60}m`, x(s) - 8, top + plotH + 18);
  }
  const line = (series: number[], colour: string) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    series.forEach((v, i) => {
      const px = x(i * width + width / 2);
      if (i === 0) ctx.moveTo(px, y(v));
      else ctx.lineTo(px, y(v));
    });
    ctx.stroke();
  };
  line(acked, '#1f77b4');
  line(completed, '#2ca02c');
  if (text) {
    ctx.font = '11pt Soak';
    const legend: Array<[string, string]> = [
      ['acknowledged jobs/s', '#1f77b4'],
      ['completed jobs/s', '#2ca02c'],
      ...FAULT_KINDS.map((k): [string, string] => [k, KIND_COLOURS[k]]),
    ];
    let lx = left;
    let ly = H - 45;
    for (const [label, colour] of legend) {
      ctx.fillStyle = colour;
      ctx.fillRect(lx, ly - 10, 14, 10);
      ctx.fillStyle = '#000000';
      ctx.fillText(label, lx + 18, ly);
      lx += 18 + label.length * 8 + 18;
      if (lx > W - 200) {
        lx = left;
        ly += 20;
      }
    }
  }
  await PImage.encodePNGToStream(img, createWriteStream(options.path));
}
