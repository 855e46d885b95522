/**
 * Relay regions: fly.io region codes with where they are, so the control plane can pick the
 * region nearest a channel's first member (relays/relay-selection.ts).
 *
 * The client's position comes from Cloudflare's `request.cf` (latitude and longitude of the
 * client's IP, else its continent). Distances are great-circle distances on a sphere (haversine),
 * which is as precise as IP geolocation deserves. docs/deploying-relays.md shows this table.
 */

export type Continent = 'AF' | 'AN' | 'AS' | 'EU' | 'NA' | 'OC' | 'SA';

export interface RelayRegion {
  readonly code: string;
  readonly city: string;
  readonly latitude: number;
  readonly longitude: number;
  readonly continent: Continent;
}

/** fly.io regions (https://fly.io/docs/reference/regions/), with their city's coordinates. */
export const RELAY_REGIONS: readonly RelayRegion[] = [
  { code: 'ams', city: 'Amsterdam', latitude: 52.37, longitude: 4.9, continent: 'EU' },
  { code: 'arn', city: 'Stockholm', latitude: 59.33, longitude: 18.07, continent: 'EU' },
  { code: 'atl', city: 'Atlanta', latitude: 33.75, longitude: -84.39, continent: 'NA' },
  { code: 'bog', city: 'Bogotá', latitude: 4.71, longitude: -74.07, continent: 'SA' },
  { code: 'bom', city: 'Mumbai', latitude: 19.08, longitude: 72.88, continent: 'AS' },
  { code: 'bos', city: 'Boston', latitude: 42.36, longitude: -71.06, continent: 'NA' },
  { code: 'cdg', city: 'Paris', latitude: 48.86, longitude: 2.35, continent: 'EU' },
  { code: 'den', city: 'Denver', latitude: 39.74, longitude: -104.99, continent: 'NA' },
  { code: 'dfw', city: 'Dallas', latitude: 32.78, longitude: -96.8, continent: 'NA' },
  { code: 'ewr', city: 'Secaucus, NJ', latitude: 40.79, longitude: -74.06, continent: 'NA' },
  { code: 'eze', city: 'Buenos Aires', latitude: -34.6, longitude: -58.38, continent: 'SA' },
  { code: 'fra', city: 'Frankfurt', latitude: 50.11, longitude: 8.68, continent: 'EU' },
  { code: 'gdl', city: 'Guadalajara', latitude: 20.66, longitude: -103.35, continent: 'NA' },
  { code: 'gig', city: 'Rio de Janeiro', latitude: -22.91, longitude: -43.17, continent: 'SA' },
  { code: 'gru', city: 'São Paulo', latitude: -23.55, longitude: -46.63, continent: 'SA' },
  { code: 'hkg', city: 'Hong Kong', latitude: 22.32, longitude: 114.17, continent: 'AS' },
  { code: 'iad', city: 'Ashburn, VA', latitude: 39.04, longitude: -77.49, continent: 'NA' },
  { code: 'jnb', city: 'Johannesburg', latitude: -26.2, longitude: 28.05, continent: 'AF' },
  { code: 'lax', city: 'Los Angeles', latitude: 34.05, longitude: -118.24, continent: 'NA' },
  { code: 'lhr', city: 'London', latitude: 51.51, longitude: -0.13, continent: 'EU' },
  { code: 'mad', city: 'Madrid', latitude: 40.42, longitude: -3.7, continent: 'EU' },
  { code: 'mia', city: 'Miami', latitude: 25.76, longitude: -80.19, continent: 'NA' },
  { code: 'nrt', city: 'Tokyo', latitude: 35.68, longitude: 139.69, continent: 'AS' },
  { code: 'ord', city: 'Chicago', latitude: 41.88, longitude: -87.63, continent: 'NA' },
  { code: 'otp', city: 'Bucharest', latitude: 44.43, longitude: 26.1, continent: 'EU' },
  { code: 'phx', city: 'Phoenix', latitude: 33.45, longitude: -112.07, continent: 'NA' },
  { code: 'qro', city: 'Querétaro', latitude: 20.59, longitude: -100.39, continent: 'NA' },
  { code: 'scl', city: 'Santiago', latitude: -33.45, longitude: -70.67, continent: 'SA' },
  { code: 'sea', city: 'Seattle', latitude: 47.61, longitude: -122.33, continent: 'NA' },
  { code: 'sin', city: 'Singapore', latitude: 1.35, longitude: 103.82, continent: 'AS' },
  { code: 'sjc', city: 'San Jose', latitude: 37.34, longitude: -121.89, continent: 'NA' },
  { code: 'syd', city: 'Sydney', latitude: -33.87, longitude: 151.21, continent: 'OC' },
  { code: 'waw', city: 'Warsaw', latitude: 52.23, longitude: 21.01, continent: 'EU' },
  { code: 'yul', city: 'Montreal', latitude: 45.5, longitude: -73.57, continent: 'NA' },
  { code: 'yyz', city: 'Toronto', latitude: 43.65, longitude: -79.38, continent: 'NA' },
];

const BY_CODE = new Map(RELAY_REGIONS.map((r) => [r.code, r]));

export function relayRegion(code: string): RelayRegion | undefined {
  return BY_CODE.get(code);
}

export function isKnownRegion(code: string): boolean {
  return BY_CODE.has(code);
}

const EARTH_RADIUS_KM = 6371;

/** Great-circle distance in km between two points given in degrees (haversine formula). */
export function distanceKm(latitudeA: number, longitudeA: number, latitudeB: number, longitudeB: number): number {
  const rad = Math.PI / 180;
  const dLat = (latitudeB - latitudeA) * rad;
  const dLon = (longitudeB - longitudeA) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(latitudeA * rad) * Math.cos(latitudeB * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}
