/**
 * Which control plane the `parley` account commands talk to: `--url`, else the PARLEY_URL
 * environment variable, else the local stack `npm start` runs (its `.parley/stack.json`,
 * control/dev/local-stack/stack-info.ts), else the local stack's default address.
 */
import { LOCAL_STATE_DIR } from '../../control/dev/local-paths.js';
import { readStackInfo } from '../../control/dev/local-stack/stack-info.js';

/** Where `npm start` puts the control plane when its default port is free. */
export const DEFAULT_CONTROL_URL = 'http://127.0.0.1:8787';
export const CONTROL_URL_VARIABLE = 'PARLEY_URL';

export interface ResolvedControlUrl {
  readonly url: string;
  /** Where it came from, for messages: `--url`, `PARLEY_URL`, `the local stack`, `the default`. */
  readonly source: string;
}

/** A control-plane URL is an http(s) URL with no credentials, query or fragment. */
export class ControlUrlError extends Error {
  override readonly name = 'ControlUrlError';
}

export function normaliseControlUrl(text: string, source: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ControlUrlError(`${source} is not a URL (expected something like ${DEFAULT_CONTROL_URL})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ControlUrlError(`${source} must be an http or https URL`);
  if (url.username !== '' || url.password !== '') throw new ControlUrlError(`${source} must not carry credentials`);
  if (url.search !== '' || url.hash !== '') throw new ControlUrlError(`${source} must not have a query or fragment`);
  // One spelling per deployment, so a login stored under it is found again.
  return url.href.replace(/\/+$/, '');
}

export function resolveControlUrl(flag: string | undefined, env: NodeJS.ProcessEnv, stateDir: string = LOCAL_STATE_DIR): ResolvedControlUrl {
  if (flag !== undefined) return { url: normaliseControlUrl(flag, '--url'), source: '--url' };
  const fromEnv = env[CONTROL_URL_VARIABLE];
  if (fromEnv !== undefined && fromEnv !== '') return { url: normaliseControlUrl(fromEnv, CONTROL_URL_VARIABLE), source: CONTROL_URL_VARIABLE };
  const running = readStackInfo(stateDir);
  if (running !== null) return { url: normaliseControlUrl(running.controlUrl, 'the local stack'), source: 'the local stack (npm start)' };
  return { url: DEFAULT_CONTROL_URL, source: 'the default' };
}
