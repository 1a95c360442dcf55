/**
 * `npx tsx bench/profile-top.ts [--by-file] FILE.cpuprofile [N]`: the N functions with the most
 * self time in a V8 CPU profile (from `npm run bench -- --cpu-prof DIR`), and the share by package.
 *
 *   --by-file  instead, the self time of the process's busy samples (idle left out) by where it
 *              ran: each of our files, each package, each part of Node's own library, V8's own
 *              entries (the collector, `(program)`, native socket writes); the N largest
 */
import { readFileSync } from 'node:fs';
import { badArgs, benchArgs } from './args.js';

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const parsed = benchArgs(import.meta.url, { 'by-file': { type: 'boolean' } }, { positionals: true });
const [file, topArg, ...extra] = parsed.positionals;
if (!file || extra.length > 0) badArgs(import.meta.url, 'takes FILE.cpuprofile and, optionally, N');
const topCount = Number(topArg ?? 25);
if (!Number.isInteger(topCount) || topCount < 1)
  badArgs(import.meta.url, `N takes a whole number above 0, not "${topArg}"`);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const [id, us] of selfUs) {
  const frame = byId.get(id)?.callFrame;
  if (!frame) continue;
  const where = frame.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, '');
  const name = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  const pkg =
    /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1] ??
    (frame.url.startsWith('node:') ? 'node core' : frame.url ? 'our code' : frame.functionName);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
}
// Inclusive time: a node's self time plus its subtree's, counted once per function per stack.
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)?.callFrame;
    if (!frame?.url.includes('/dist/src/')) continue;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/.*\/dist\//, '')}:${frame.lineNumber + 1}`;
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + us);
  }
}
if (parsed.values['by-file'] === true) {
  const byPlace = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') continue;
    busy += us;
    const place =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1] ??
      (frame.url.includes('/dist/')
        ? frame.url.replace(/.*\/dist\//, '')
        : frame.url.startsWith('node:')
          ? `node:${frame.url.slice(5).split('/').slice(0, 2).join('/')}`
          : frame.url || frame.functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
  }
  const lines = [...byPlace]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topCount)
    .map(([place, us]) => `${((100 * us) / busy).toFixed(1).padStart(5)}%  ${place}`);
  process.stdout.write(`${(busy / 1e6).toFixed(1)} s busy (idle left out)\n\n${lines.join('\n')}\n`);
  process.exit(0);
}
const show = (entries: Map<string, number>, n: number) =>
  [...entries]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`)
    .join('\n');
process.stdout.write(
  `${(total / 1e6).toFixed(1)} s sampled\n\nby package:\n${show(byPackage, 12)}\n\nby function (self):\n${show(byFunction, topCount)}\n\nour functions (inclusive):\n${show(inclusive, topCount)}\n`,
);
