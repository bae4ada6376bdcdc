/** gateway.schema.json and docs/configuration.md are generated; they must match the schema now. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { buildJsonSchema, renderConfigurationDoc, renderJsonSchema } from '../../src/config/emit-schema.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

t.test('gateway.schema.json on disk is what emit-schema produces (run `npm run schema`)', async (t) => {
  t.equal(read('gateway.schema.json'), renderJsonSchema());
});

t.test('docs/configuration.md on disk is what emit-schema produces (run `npm run schema`)', async (t) => {
  t.equal(read('docs/configuration.md'), renderConfigurationDoc());
});

t.test('the JSON Schema is draft 2020-12, closed, and describes every key', async (t) => {
  const schema = buildJsonSchema();
  t.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  // biome-ignore lint/suspicious/noExplicitAny: walks untyped JSON (any node of the emitted schema)
  const visit = (node: any, path: string): void => {
    t.type(node.description, 'string', `${path} has a description`);
    if (node.type === 'object' && node.properties) {
      t.equal(node.additionalProperties, false, `${path} rejects unknown keys`);
      for (const [key, child] of Object.entries(node.properties)) visit(child, `${path}.${key}`);
    }
    if (node.type === 'object' && typeof node.additionalProperties === 'object') visit(node.additionalProperties, `${path}.*`);
  };
  visit(schema, '$');
  // biome-ignore lint/suspicious/noExplicitAny: reads untyped JSON several levels deep
  const props = schema.properties as any;
  t.same(schema.required, ['public_url', 'upstream', 'session', 'realms']);
  t.same(props.session.properties.store, {
    description: props.session.properties.store.description,
    type: 'string',
    enum: ['cookie', 'redis'],
    default: 'cookie',
  });
  t.same(props.listen.properties.port.minimum, 0);
  t.same(props.realms.propertyNames, { pattern: '^[a-z][a-z0-9_-]{0,31}$' });
  t.same(props.realms.additionalProperties.properties.provider.properties.scopes.default, ['openid', 'profile', 'email']);
  t.ok(new RegExp(props.upstream.properties.timeout.pattern).test('1h30m'), 'duration pattern accepts 1h30m');
  t.notOk(new RegExp(props.upstream.properties.timeout.pattern).test('30'), 'duration pattern refuses a bare number');
  t.ok(new RegExp(props.upstream.properties.timeout.pattern).test('${TIMEOUT}'), 'patterns let ${VAR} through');
  t.equal(props.session.properties.secret.writeOnly, true);
});
