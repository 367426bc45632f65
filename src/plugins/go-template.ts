// The subset of Go's text/template that template-plugin records use: literal text and actions
// reading the query data: {{ .Name }}, {{ .Zone }}, {{ .Class }}, {{ .Type }}, {{ .Regex }},
// {{ index .Match N }}, {{ index .Group "name" }}, {{ .Group.name }}, {{ .Match }},
// with {{- and -}} whitespace trimming. Anything else is reported at config time, never at query time.

export interface TemplateData {
  readonly Name: string;
  readonly Zone: string;
  readonly Class: string;
  readonly Type: string;
  readonly Regex: string;
  readonly Match: readonly string[];
  readonly Group: { readonly [name: string]: string };
}

type Piece = string | ((data: TemplateData) => string);

export type CompiledTemplate = (data: TemplateData) => string;

// .Remote is left out: answers are cached for every client (the cache runs before template).
const FIELDS = new Set(['Name', 'Zone', 'Class', 'Type', 'Regex']);

function compileAction(action: string): ((data: TemplateData) => string) | string {
  const field = /^\.([A-Za-z]+)$/.exec(action);
  if (field && FIELDS.has(field[1])) {
    const key = field[1] as 'Name';
    return (d) => d[key];
  }
  if (action === '.Match') return (d) => `[${d.Match.join(' ')}]`;
  const group = /^\.Group\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(action);
  if (group) return (d) => d.Group[group[1]] ?? '<no value>';
  const indexMatch = /^index\s+\.Match\s+(\d+)$/.exec(action);
  if (indexMatch) {
    const i = Number(indexMatch[1]);
    return (d) => d.Match[i] ?? '';
  }
  const indexGroup = /^index\s+\.Group\s+(?:"([^"]*)"|`([^`]*)`)$/.exec(action);
  if (indexGroup) {
    const key = indexGroup[1] ?? indexGroup[2];
    return (d) => d.Group[key] ?? '';
  }
  return `unsupported template action {{ ${action} }} (supported: .Name .Zone .Class .Type .Regex .Match, index .Match N, index .Group "NAME", .Group.NAME)`;
}

/** Compiles one template; returns an error string for syntax it does not support. */
export function compileGoTemplate(text: string): CompiledTemplate | string {
  const pieces: Piece[] = [];
  let rest = text;
  for (;;) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      if (rest.includes('}}')) return `unbalanced "}}" in template ${JSON.stringify(text)}`;
      pieces.push(rest);
      break;
    }
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) return `unclosed action in template ${JSON.stringify(text)}`;
    let literal = rest.slice(0, open);
    let action = rest.slice(open + 2, close);
    let after = rest.slice(close + 2);
    if (action.startsWith('- ')) {
      literal = literal.trimEnd();
      action = action.slice(1);
    }
    if (action.endsWith(' -')) {
      after = after.trimStart();
      action = action.slice(0, -1);
    }
    action = action.trim();
    if (action.startsWith('/*')) {
      pieces.push(literal);
      rest = after;
      continue;
    }
    const piece = compileAction(action);
    if (typeof piece === 'string') return piece;
    pieces.push(literal, piece);
    rest = after;
  }
  return (data) => {
    let out = '';
    for (const p of pieces) out += typeof p === 'string' ? p : p(data);
    return out;
  };
}
