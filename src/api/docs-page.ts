/**
 * The browsable API reference at /docs: one self-contained HTML page rendered on the server from
 * the OpenAPI document @fastify/swagger builds (no script, no CDN — the page must work on a closed
 * network and in a browser with scripts off). The interactive explorer is @fastify/swagger-ui's,
 * at /docs/ui.
 */

type JsonObject = { [key: string]: unknown };

/** The parts of an OpenAPI 3.1 document the page shows. */
export interface DocsSource {
  info?: unknown;
  servers?: unknown;
  paths?: unknown;
  components?: unknown;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const anchor = (text: string): string => text.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');

/** A short human-readable type: `string (date-time) | null`, `array of UserCallEvent`. */
function typeLabel(schema: unknown): string {
  if (!isObject(schema)) return 'any';
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.split('/').pop() ?? schema.$ref;
    return `<a href="#schema-${anchor(name)}">${escapeHtml(name)}</a>`;
  }
  if (Array.isArray(schema.anyOf)) return schema.anyOf.map(typeLabel).join(' | ');
  if (Array.isArray(schema.enum))
    return schema.enum.map((value) => escapeHtml(JSON.stringify(value))).join(' | ');
  if ('const' in schema) return escapeHtml(JSON.stringify(schema.const));
  if (schema.type === 'array') return `array of ${typeLabel(schema.items)}`;
  const types = Array.isArray(schema.type)
    ? schema.type.filter((item) => typeof item === 'string')
    : [schema.type];
  const type =
    types.every((item) => typeof item === 'string') && types.length > 0 ? types.join(' | ') : 'any';
  return typeof schema.format === 'string' ? `${type} (${escapeHtml(schema.format)})` : type;
}

const paragraphs = (text: unknown): string =>
  typeof text === 'string'
    ? text
        .split(/\n{2,}/)
        .map((paragraph) => `<p>${escapeHtml(paragraph)}</p>`)
        .join('\n')
    : '';

function propertiesTable(schema: JsonObject): string {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const rows = Object.entries(properties).map(([name, property]) => {
    const description =
      isObject(property) && typeof property.description === 'string' ? property.description : '';
    return `<tr><td><code>${escapeHtml(name)}</code>${required.has(name) ? '' : ' <small>optional</small>'}</td><td>${typeLabel(property)}</td><td>${escapeHtml(description)}</td></tr>`;
  });
  return `<table><thead><tr><th>Field</th><th>Type</th><th>Description</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function operationSection(path: string, method: string, operation: JsonObject): string {
  const id = anchor(`${method}-${path}`);
  const parameters = Array.isArray(operation.parameters) ? operation.parameters.filter(isObject) : [];
  const parameterRows = parameters.map(
    (parameter) =>
      `<tr><td><code>${escapeHtml(String(parameter.name))}</code></td><td>${escapeHtml(String(parameter.in))}</td><td>${parameter.required === true ? 'yes' : 'no'}</td><td>${typeLabel(parameter.schema)}</td><td>${escapeHtml(typeof parameter.description === 'string' ? parameter.description : '')}</td></tr>`,
  );
  const requestBody = isObject(operation.requestBody) ? operation.requestBody : undefined;
  const bodySchema =
    requestBody && isObject(requestBody.content) && isObject(requestBody.content['application/json'])
      ? requestBody.content['application/json'].schema
      : undefined;
  const responses = isObject(operation.responses) ? operation.responses : {};
  const responseRows = Object.entries(responses).map(([status, response]) => {
    const description =
      isObject(response) && typeof response.description === 'string' ? response.description : '';
    const content =
      isObject(response) && isObject(response.content) ? response.content['application/json'] : undefined;
    const schema = isObject(content) ? content.schema : undefined;
    return `<tr><td>${escapeHtml(status)}</td><td>${schema === undefined ? '' : typeLabel(schema)}</td><td>${escapeHtml(description)}</td></tr>`;
  });
  const authenticated = Array.isArray(operation.security) && operation.security.length > 0;
  return `<section id="${id}" class="operation">
<h3><span class="method ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code></h3>
<p class="summary">${escapeHtml(String(operation.summary ?? ''))}${authenticated ? ' <span class="auth">HTTP Basic</span>' : ' <span class="auth open">no authentication</span>'}</p>
${paragraphs(operation.description)}
<h4>Parameters</h4>
<table><thead><tr><th>Name</th><th>In</th><th>Required</th><th>Type</th><th>Description</th></tr></thead><tbody>${parameterRows.join('')}</tbody></table>
${isObject(bodySchema) ? `<h4>Request body (application/json)</h4>${propertiesTable(bodySchema)}` : ''}
<h4>Responses</h4>
<table><thead><tr><th>Status</th><th>Body</th><th>Description</th></tr></thead><tbody>${responseRows.join('')}</tbody></table>
</section>`;
}

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;display:flex}
nav{width:280px;flex:none;height:100vh;position:sticky;top:0;overflow:auto;background:#f3f5f9;padding:16px;box-sizing:border-box;font-size:14px}
nav a{display:block;color:#1d2330;text-decoration:none;padding:2px 0}nav a:hover{text-decoration:underline}
nav h2{font-size:13px;text-transform:uppercase;color:#667;margin:16px 0 4px}
main{padding:24px 40px;max-width:1100px;min-width:0}
table{border-collapse:collapse;width:100%;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #d8dde6;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f5f9}
code{font-family:ui-monospace,monospace;font-size:13px}
.method{display:inline-block;min-width:52px;text-align:center;border-radius:4px;color:#fff;font-size:13px;padding:2px 6px}
.get{background:#2f7d4f}.post{background:#2f5d9d}
.operation{border-top:1px solid #d8dde6;padding-top:8px;margin-top:24px}
.auth{font-size:12px;background:#fbe9c8;border-radius:4px;padding:1px 6px}.auth.open{background:#dcefe1}
`;

const objectOr = (value: unknown): JsonObject => (isObject(value) ? value : {});

export function renderDocsPage(document: DocsSource): string {
  const info = objectOr(document.info);
  const title = String(info.title ?? 'API');
  const schemas = objectOr(objectOr(document.components).schemas);
  const firstServer = Array.isArray(document.servers) ? objectOr(document.servers[0]) : {};
  const operations: string[] = [];
  const navigation = new Map<string, string[]>();
  for (const [path, item] of Object.entries(objectOr(document.paths))) {
    for (const [method, value] of Object.entries(objectOr(item))) {
      const operation = objectOr(value);
      operations.push(operationSection(path, method, operation));
      const tag =
        Array.isArray(operation.tags) && typeof operation.tags[0] === 'string' ? operation.tags[0] : 'Other';
      const links = navigation.get(tag) ?? [];
      links.push(
        `<a href="#${anchor(`${method}-${path}`)}"><code>${escapeHtml(method.toUpperCase())} ${escapeHtml(path)}</code></a>`,
      );
      navigation.set(tag, links);
    }
  }
  const schemaSections = Object.entries(schemas).map(([name, value]) => {
    const schema = objectOr(value);
    return `<section id="schema-${anchor(name)}"><h3>${escapeHtml(name)}</h3>${paragraphs(schema.description)}${propertiesTable(schema)}</section>`;
  });
  const nav = [...navigation.entries()]
    .map(([tag, links]) => `<h2>${escapeHtml(tag)}</h2>${links.join('')}`)
    .join('');
  const schemaNav = Object.keys(schemas)
    .map((name) => `<a href="#schema-${anchor(name)}">${escapeHtml(name)}</a>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><nav><strong>${escapeHtml(title)}</strong><p><a href="/openapi.json">openapi.json</a> · <a href="/docs/ui">explorer</a></p>${nav}<h2>Schemas</h2>${schemaNav}</nav>
<main><h1>${escapeHtml(title)}</h1>
<p>Version ${escapeHtml(String(info.version ?? ''))} · Base URL <code>${escapeHtml(String(firstServer.url ?? '/'))}</code></p>
${paragraphs(info.description)}
<h2>Endpoints</h2>
${operations.join('\n')}
<h2>Schemas</h2>
${schemaSections.join('\n')}
</main></body></html>`;
}
