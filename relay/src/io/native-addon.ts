/**
 * Finds and loads relay/native's one module (parley_gcm.node: the AES-GCM engines and the
 * sendmmsg functions), once per process, and refuses a stale build. native-gcm-backend.ts and
 * native-udp.ts each check the functions they need on what this returns.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Must equal ABI_VERSION in relay/native/src/parley_gcm.c: a stale build is refused rather than misused. */
export const ADDON_ABI_VERSION = 8;

/**
 * Where node-gyp puts the addon, relative to this module: from relay/src/io/ when run from source
 * (tsx, vitest), and from dist/relay/src/io/ in the container image, which copies the build to
 * relay/native/build/Release/ beside dist/.
 */
export const ADDON_LOCATIONS = ['../../native/build/Release/parley_gcm.node', '../../../../relay/native/build/Release/parley_gcm.node'];

export const BUILD_HINT = 'run `npm run build:native`';

let loaded: { readonly addon: Readonly<Record<string, unknown>>; readonly path: string } | { readonly error: string } | undefined;

/** The file the addon was loaded from, or null if it was not (or not yet) loaded. */
export function loadedNativeAddonPath(): string | null {
  return loaded !== undefined && 'path' in loaded ? loaded.path : null;
}

/**
 * The addon's exports, checked for the ABI version; throws an Error saying why not (prefixed
 * with `who`). Node loads an addon file once per process; so does this, failure included.
 */
export function requireNativeAddon(who: string): Readonly<Record<string, unknown>> {
  loaded ??= loadOnce();
  if ('error' in loaded) throw new Error(`${who}: ${loaded.error}`);
  return loaded.addon;
}

/**
 * PARLEY_RELAY_ADDON, when set, names the one addon file to load instead of the usual places:
 * the sanitizer build (test/system/native-sanitizers.test.ts) is loaded this way. Worker threads
 * get it too (relay/src/workers/worker-pool.ts passes it on).
 */
export const ADDON_PATH_VARIABLE = 'PARLEY_RELAY_ADDON';

function loadOnce(): { readonly addon: Readonly<Record<string, unknown>>; readonly path: string } | { readonly error: string } {
  const override = process.env[ADDON_PATH_VARIABLE];
  const paths = override !== undefined && override !== '' ? [override] : ADDON_LOCATIONS.map((relative) => fileURLToPath(new URL(relative, import.meta.url)));
  const path = paths.find((candidate) => existsSync(candidate));
  if (path === undefined) return { error: `addon not built (looked for ${paths.join(', ')}); ${BUILD_HINT}` };
  let addon: unknown;
  try {
    addon = createRequire(import.meta.url)(path);
  } catch (error) {
    // For example an undefined OpenSSL symbol when node was built without exporting them, or a
    // binary built for another platform.
    const reason = error instanceof Error ? error.message : String(error);
    return { error: `could not load ${path}: ${reason}; ${BUILD_HINT} with this node` };
  }
  if (typeof addon !== 'object' || addon === null || (addon as { abiVersion?: unknown }).abiVersion !== ADDON_ABI_VERSION) {
    return { error: `${path} is a stale or foreign build; ${BUILD_HINT}` };
  }
  return { addon: addon as Readonly<Record<string, unknown>>, path };
}
