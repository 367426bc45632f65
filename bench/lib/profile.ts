// Summarizes a V8 .cpuprofile (from node --cpu-prof) by self time per function.
// Usage as a script: node --import tsx bench/lib/profile.ts FILE.cpuprofile [N]
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const maps = new Map<string, SourceMap | null>();

/** `file:line` of a call frame, mapped through `<bundle>.map` when there is one (dist is bundled). */
function location(url: string, line: number, column: number): string {
  if (!url) return '';
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  let map = maps.get(file);
  if (map === undefined) {
    map = null;
    try {
      if (existsSync(`${file}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      /* unmapped */
    }
    maps.set(file, map);
  }
  const entry = map?.findEntry(line, column) as { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource) {
    const src = entry.originalSource.replace(/^.*?(src|node_modules)\//, '$1/');
    return `${src}:${(entry.originalLine ?? 0) + 1}`;
  }
  return `${path.basename(file)}:${line + 1}`;
}

export interface ProfileEntry {
  function: string;
  url: string;
  selfMs: number;
  /** percent of the non-idle time */
  selfPct: number;
}

export function summarizeProfile(file: string, topN = 10): { totalMs: number; idleMs: number; top: ProfileEntry[] } {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { function: string; url: string; us: number }>();
  let idleUs = 0;
  let totalUs = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const node = byId.get(prof.samples[i]!);
    // timeDeltas[i] is the time before sample i; attribute the gap after it (next delta) to it.
    const dt = prof.timeDeltas[i + 1] ?? 0;
    if (!node || dt <= 0) continue;
    const fn = node.callFrame.functionName || '(anonymous)';
    if (fn === '(idle)') {
      idleUs += dt;
      continue;
    }
    totalUs += dt;
    const url = location(node.callFrame.url, node.callFrame.lineNumber, node.callFrame.columnNumber);
    const key = `${fn}|${url}`;
    const e = self.get(key);
    if (e) e.us += dt;
    else self.set(key, { function: fn, url, us: dt });
  }
  const top = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({ function: e.function, url: e.url, selfMs: e.us / 1000, selfPct: totalUs ? (100 * e.us) / totalUs : 0 }));
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, top };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/lib/profile.ts FILE.cpuprofile [N]');
    process.exit(2);
  }
  const s = summarizeProfile(file, Number(process.argv[3] ?? 15));
  console.log(`non-idle ${s.totalMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms`);
  for (const e of s.top) console.log(`${e.selfPct.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(0).padStart(6)} ms  ${e.function}  ${e.url}`);
}
