// Reads a YAML config file, validates it against the schema and returns a frozen Config or a list
// of errors, each naming file:line and the field path
// (e.g. `config.yaml:12 servers[0].cache.success.capacity: must be >= 1, got -5`).
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { configSchema, type RawConfig } from './schema.js';
import type { Config } from './types.js';

export interface ConfigIssue {
  readonly file: string;
  readonly line: number; // 1-based; 0 when unknown
  readonly field: string; // e.g. servers[0].cache.success.capacity
  readonly reason: string;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; issues: ConfigIssue[] };

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}` : issue.file;
  return issue.field ? `${where} ${issue.field}: ${issue.reason}` : `${where}: ${issue.reason}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** Loads and validates a YAML file. Never throws for bad input. */
export function loadConfigFile(file: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, issues: [{ file, line: 0, field: '', reason: `cannot read: ${(err as Error).message}` }] };
  }
  return loadConfigText(text, file);
}

/** Validates YAML text; `file` names it in messages. */
export function loadConfigText(text: string, file: string): ConfigResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => ({ file, line: lineCounter.linePos(e.pos[0]).line, field: '', reason: e.message.split('\n')[0] })),
    };
  }
  const raw = doc.toJS() as unknown;
  return validateRawConfig(raw, file, (path) => lineOf(doc, lineCounter, path));
}

/** Validates an already-built raw config (e.g. from a Corefile); `lineOf` maps paths to lines. */
export function validateRawConfig(raw: unknown, file: string, lineOf: (path: readonly PropertyKey[]) => number = () => 0): ConfigResult {
  if (raw === null || typeof raw !== 'object') {
    return { ok: false, issues: [{ file, line: 1, field: '', reason: 'config must be a mapping with a `servers` list' }] };
  }
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (result.success) return { ok: true, config: deepFreeze(result.data) };
  return { ok: false, issues: result.error.issues.map((issue) => toConfigIssue(issue, file, lineOf)) };
}

function toConfigIssue(issue: z.core.$ZodIssue, file: string, lineOf: (path: readonly PropertyKey[]) => number): ConfigIssue {
  let path = issue.path;
  let reason = describeIssue(issue);
  if (issue.code === 'unrecognized_keys') {
    path = [...issue.path, issue.keys[0]];
    reason = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return { file, line: lineOf(path), field: formatPath(path), reason };
}

function got(input: unknown): string {
  return input === undefined ? 'nothing' : JSON.stringify(input);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${issue.minimum} entr${issue.minimum === 1 ? 'y' : 'ies'}`;
      return `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}, got ${got(input)}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${issue.maximum} entries`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}, got ${got(input)}`;
    case 'invalid_type':
      if (input === undefined) return 'is required';
      return `must be ${issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`}, got ${got(input)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => String(v)).join(' | ')}, got ${got(input)}`;
    case 'invalid_union':
      return `has an invalid value ${got(input)}`;
    case 'custom':
      return input === undefined ? issue.message : issue.message.includes(' got ') ? issue.message : `${issue.message}, got ${got(input)}`;
    default:
      return `${issue.message}${input === undefined ? '' : `, got ${got(input)}`}`;
  }
}

function lineOf(doc: Document, lineCounter: LineCounter, path: readonly PropertyKey[]): number {
  // Walk up the path until a node with a source range exists (a missing field maps to its parent).
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return 1;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

export type { RawConfig };
