/**
 * The documents say what the code does: the region table and continent anchors in
 * docs/deploying-relays.md match control/src/relays/, and the registration example of
 * docs/protocol.md §4.7 is accepted by the parser the control plane uses.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RELAY_REGIONS } from '../../../control/src/relays/regions.js';
import { CONTINENT_ANCHOR_REGIONS, DEFAULT_ANCHOR_REGION } from '../../../control/src/relays/relay-selection.js';
import { parseJsonBody, parseRelayRegistration } from '../../../shared/relay-api/messages.js';

const deploying = readFileSync(new URL('../../../docs/deploying-relays.md', import.meta.url), 'utf8');
const protocol = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

function section(text: string, heading: string): string {
  const start = text.indexOf(heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const rest = text.slice(start + heading.length);
  const next = rest.search(/\n#{2,3} /);
  return next < 0 ? rest : rest.slice(0, next);
}

describe('docs/deploying-relays.md', () => {
  const choosing = section(deploying, '## How the control plane chooses a relay');
  const prose = choosing.replace(/\s+/g, ' ');

  it('lists exactly the region table of relays/regions.ts', () => {
    const rows = [...choosing.matchAll(/^\| `([a-z]{3})` \| ([^|]+) \| ([A-Z]{2}) \| (-?[\d.]+), (-?[\d.]+) \|$/gm)].map((m) => ({
      code: m[1],
      city: m[2]!.trim(),
      continent: m[3],
      latitude: Number(m[4]),
      longitude: Number(m[5]),
    }));
    expect(rows).toEqual(RELAY_REGIONS.map((r) => ({ code: r.code, city: r.city, continent: r.continent, latitude: r.latitude, longitude: r.longitude })));
  });

  it('names the continent anchors and the default anchor the code uses', () => {
    const names: Record<string, string> = { AF: 'Africa', AN: 'Antarctica', AS: 'Asia', EU: 'Europe', NA: 'North America', OC: 'Oceania', SA: 'South America' };
    for (const [continent, code] of Object.entries(CONTINENT_ANCHOR_REGIONS)) expect(prose).toContain(`${names[continent]} \`${code}\``);
    expect(prose).toContain(`unknown (e.g. Tor) \`${DEFAULT_ANCHOR_REGION}\``);
  });
});

describe('docs/protocol.md §4.7', () => {
  const directory = section(protocol, '### 4.7 Relay directory');
  const prose = directory.replace(/\s+/g, ' ');

  it('its heartbeat body is a valid registration', () => {
    const body = /^(\{"relayId".*\})$/m.exec(directory)?.[1];
    expect(body).toBeDefined();
    const json = parseJsonBody(new TextEncoder().encode(body!));
    expect(json.ok).toBe(true);
    expect(parseRelayRegistration((json as { value: unknown }).value).ok).toBe(true);
  });

  it('names the continent anchors the code uses', () => {
    for (const [continent, code] of Object.entries(CONTINENT_ANCHOR_REGIONS)) expect(prose).toContain(`${continent} \`${code}\``);
    expect(directory).toContain(`\`${DEFAULT_ANCHOR_REGION}\``);
  });
});
