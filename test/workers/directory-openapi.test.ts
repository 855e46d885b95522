/**
 * The app-key, token and relay-directory operations in the generated OpenAPI document, and the
 * documentation-only schema of the relay registration body against the parser that really
 * validates it (shared/relay-api parseRelayRegistration).
 */
import { describe, expect, it } from 'vitest';
import { RelayRegistrationDocSchema } from '../../control/src/http/relay-routes.js';
import { parseRelayRegistration } from '../../shared/relay-api/messages.js';
import { workerFetch } from './support/control-fixtures.js';

interface OpenApiDocument {
  paths: Record<string, Record<string, { security?: unknown[]; requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
}

const EXAMPLE = {
  relayId: 'relay-fra-1',
  bootId: 'AAECAwQFBgcICQoLDA0ODw',
  region: 'fra',
  apiUrl: 'https://relay-fra-1.fly.dev/',
  udpEndpoint: { host: '203.0.113.7', port: 40000 },
  udpEndpoints: [
    { host: '203.0.113.7', port: 40000 },
    { host: '203.0.113.7', port: 40001 },
  ],
  publicKey: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo',
  load: { sessions: 12, channels: 3 },
  draining: false,
  rekeyRequested: ['ses-1'],
  lostSessions: [],
};

describe('OpenAPI document', () => {
  it('lists every app-key, token and relay-directory operation with its security scheme and errors', async () => {
    const document = (await (await workerFetch('/v1/openapi.json')).json()) as OpenApiDocument;
    const expected: [string, string, string, string[]][] = [
      ['/v1/tokens', 'post', 'appKey', ['201', '400', '401', '403']],
      ['/v1/admin/app-keys', 'post', 'appKey', ['201', '400', '401', '403']],
      ['/v1/admin/app-keys', 'get', 'appKey', ['200', '401', '403']],
      ['/v1/admin/app-keys/{id}', 'delete', 'appKey', ['204', '400', '401', '403', '404']],
      ['/v1/admin/relays', 'get', 'appKey', ['200', '401', '403']],
      ['/internal/relays/register', 'post', 'relaySignature', ['200', '400', '401', '503']],
      ['/internal/relays/heartbeat', 'post', 'relaySignature', ['200', '400', '401', '404', '503']],
    ];
    for (const [path, method, scheme, statuses] of expected) {
      const operation = document.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation!.security).toEqual([{ [scheme]: [] }]);
      for (const status of statuses) expect(operation!.responses[status], `${method} ${path} ${status}`).toBeDefined();
    }
    expect(document.components.schemas['RelayRegistration']).toBeDefined();
    expect(document.paths['/internal/relays/register']!['post']!.requestBody!.content['application/json']!.schema).toEqual({ $ref: '#/components/schemas/RelayRegistration' });
  });
});

describe('RelayRegistrationDocSchema', () => {
  it('accepts what parseRelayRegistration accepts', () => {
    expect(parseRelayRegistration(EXAMPLE).ok).toBe(true);
    expect(RelayRegistrationDocSchema.safeParse(EXAMPLE).success).toBe(true);
  });

  it('refuses what parseRelayRegistration refuses, for each field', () => {
    const bad = [
      { ...EXAMPLE, extra: 1 },
      { ...EXAMPLE, relayId: '' },
      { ...EXAMPLE, udpEndpoints: [] },
      { ...EXAMPLE, publicKey: 'short' },
      { ...EXAMPLE, load: { sessions: -1, channels: 0 } },
      { ...EXAMPLE, load: { sessions: 1 } },
      { ...EXAMPLE, draining: 'no' },
      { ...EXAMPLE, udpEndpoint: { host: '203.0.113.7', port: 0 } },
      { ...EXAMPLE, bootId: 'short' },
      { ...EXAMPLE, lostSessions: 'ses-1' },
      { ...EXAMPLE, apiUrl: '' },
      { ...EXAMPLE, apiUrl: undefined },
    ];
    for (const body of bad) {
      expect(parseRelayRegistration(body).ok, JSON.stringify(body)).toBe(false);
      expect(RelayRegistrationDocSchema.safeParse(body).success, JSON.stringify(body)).toBe(false);
    }
  });
});
