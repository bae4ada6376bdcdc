/**
 * Derives the published JSON Schema (gateway.schema.json, draft 2020-12, for
 * editors via yaml-language-server) and docs/configuration.md from schema.ts.
 * Run `npm run schema` after changing the schema; a test fails while the
 * committed files differ from what this produces.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { DURATION_PATTERN, formatDuration } from './duration.js';
import { gatewaySchema, type AnyNode } from './schema.js';

type Json = { [key: string]: unknown };

/** A value may also be written as ${VAR}: editors must not flag it, the gateway checks it after substitution. */
const orEnv = (pattern: string) => `(?:${pattern})|\\$\\{`;

export function buildJsonSchema(): Json {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Gatehouse gateway.yaml',
    ...toJsonSchema(gatewaySchema),
  };
}

export function renderJsonSchema(): string {
  return `${JSON.stringify(buildJsonSchema(), null, 2)}\n`;
}

function toJsonSchema(node: AnyNode): Json {
  const out: Json = { description: node.description };
  switch (node.kind) {
    case 'string':
      Object.assign(out, { type: 'string' });
      if ((node.minLength ?? 1) > 0) out.minLength = node.minLength ?? 1;
      if (node.pattern) out.pattern = orEnv(node.pattern.source);
      if (node.secret) out.writeOnly = true;
      break;
    case 'enum':
      Object.assign(out, { type: 'string', enum: [...node.values] });
      break;
    case 'int':
      Object.assign(out, { type: 'integer', minimum: node.min, maximum: node.max });
      break;
    case 'int-or-auto':
      out.anyOf = [{ type: 'integer', minimum: node.min, maximum: node.max }, { const: 'auto' }];
      break;
    case 'number':
      Object.assign(out, { type: 'number', minimum: node.min, maximum: node.max });
      break;
    case 'boolean':
      out.type = 'boolean';
      break;
    case 'duration':
      Object.assign(out, { type: 'string', pattern: orEnv(DURATION_PATTERN), examples: ['90s', '15m', '8h', '30d', '1h30m'] });
      break;
    case 'list':
      Object.assign(out, { type: 'array', items: toJsonSchema(node.items) });
      if (node.minItems) out.minItems = node.minItems;
      break;
    case 'string-or-list':
      out.anyOf = [toJsonSchema(node.items), { type: 'array', items: toJsonSchema(node.items), minItems: 1 }];
      if (node.secret) out.writeOnly = true;
      break;
    case 'map':
      Object.assign(out, { type: 'object', additionalProperties: toJsonSchema(node.values) });
      if (node.keyPattern) out.propertyNames = { pattern: node.keyPattern.source };
      if (node.minEntries) out.minProperties = node.minEntries;
      break;
    case 'object': {
      const keys = Object.entries(node.keys) as [string, AnyNode][];
      const required = keys.filter(([, child]) => child.presence === 'required').map(([key]) => key);
      Object.assign(out, {
        type: 'object',
        additionalProperties: false,
        properties: Object.fromEntries(keys.map(([key, child]) => [key, toJsonSchema(child)])),
      });
      if (required.length > 0) out.required = required;
      break;
    }
  }
  if ('default' in node && node.default !== undefined) out.default = structuredClone(node.default);
  return out;
}

// ---------------------------------------------------------------- docs/configuration.md

export function renderConfigurationDoc(): string {
  const rows: string[] = [];
  const walk = (node: AnyNode, path: string, mapEntry = false): void => {
    const hint =
      node.kind === 'string' && node.patternHint
        ? ` Must be ${node.patternHint}.`
        : node.kind === 'map' && node.keyHint
          ? ` Each key must be ${node.keyHint}.`
          : '';
    const fallback = mapEntry ? '' : defaultText(node);
    if (path !== '') rows.push(`| \`${path}\` | ${cell(typeName(node))} | ${fallback} | ${cell(node.description + hint)} |`);
    if (node.kind === 'object') {
      for (const [key, child] of Object.entries(node.keys) as [string, AnyNode][]) walk(child, path === '' ? key : `${path}.${key}`);
    } else if (node.kind === 'map' && node.values.kind === 'object') {
      walk(node.values, `${path}.<${node.keyName}>`, true);
    }
  };
  walk(gatewaySchema, '');
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run schema`; do not edit by hand. -->',
    '',
    'Gatehouse reads one YAML file, `gateway.yaml` (see the commented example at the repository root).',
    'Editors that understand `# yaml-language-server: $schema=./gateway.schema.json` check it as you type.',
    '',
    '- Unknown keys are errors, with a suggestion for the key you probably meant. An indentation mistake is named in plain words at the line to change.',
    '- `${NAME}` anywhere in a string value is replaced by the environment variable `NAME`; an unset variable is an error.',
    '  `${NAME:-default}` gives a default (used when `NAME` is unset or empty; never give one to a secret key); `$${` writes a literal `${`.',
    '  Substitution happens after parsing, so a variable can never add YAML structure. In an unquoted value',
    '  (`port: ${PORT}`) the result may stand for a number or boolean where the key expects one.',
    '- Durations are written with units: `500ms`, `90s`, `15m`, `8h`, `30d`, or combined largest first, `1h30m`.',
    '- Secrets (`session.secret`, `client_secret`, `identity.signing.secret`, `admin.token`) are never printed in a problem report.',
    '- Every problem is reported at once as `file:line:column  key: message`, and the gateway exits with status 2.',
    '',
    '| key | type | default | description |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

function typeName(node: AnyNode): string {
  switch (node.kind) {
    case 'string':
      return node.secret ? 'string (secret)' : 'string';
    case 'enum':
      return node.values.map((v) => `\`${v}\``).join(' | ');
    case 'int':
      return `integer ${node.min}–${node.max}`;
    case 'int-or-auto':
      return `\`auto\` or integer ${node.min}–${node.max}`;
    case 'number':
      return `number ${node.min}–${node.max}`;
    case 'boolean':
      return 'boolean';
    case 'duration': {
      const min = node.minMs ? `, at least ${formatDuration(node.minMs)}` : '';
      return `duration${min}${node.maxMs ? `, at most ${formatDuration(node.maxMs)}` : ''}`;
    }
    case 'list':
      return node.minItems ? 'non-empty list of strings' : 'list of strings';
    case 'string-or-list':
      return node.secret ? 'string or list of strings (secret)' : 'string or list of strings';
    case 'map':
      return `map of <${node.keyName}> → ${typeName(node.values)}`;
    case 'object':
      return 'object';
  }
}

function defaultText(node: AnyNode): string {
  if (node.presence === 'required') return '**required**';
  if (node.kind === 'object') return node.presence === 'optional' ? '—' : '';
  if ('default' in node && node.default !== undefined) return `\`${yamlish(node.default).replace(/\|/g, '\\|')}\``;
  return '—';
}

/** a default as it would be written in gateway.yaml */
function yamlish(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(yamlish).join(', ')}]`;
  if (typeof value === 'object' && value !== null)
    return `{${Object.entries(value)
      .map(([k, v]) => `${k}: ${yamlish(v)}`)
      .join(', ')}}`;
  return String(value);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;');
}

// `node dist/config/emit-schema.js` (npm run schema) writes both files at the repository root.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = new URL('../../', import.meta.url);
  writeFileSync(new URL('gateway.schema.json', root), renderJsonSchema());
  mkdirSync(new URL('docs/', root), { recursive: true });
  writeFileSync(new URL('docs/configuration.md', root), renderConfigurationDoc());
  console.log('wrote gateway.schema.json and docs/configuration.md');
}
