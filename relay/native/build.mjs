// `npm run build:native`: node-gyp rebuild of relay/native against the RUNNING node.
//
// The addon must be compiled with the headers of the node that will load it (its OpenSSL
// headers above all: the addon calls the OpenSSL inside the node binary). Official Node
// tarballs and Docker images, and Debian/NodeSource packages, ship those headers next to the
// binary (<prefix>/include/node); when they match this node's version we point node-gyp at
// them, so the build never downloads headers (CI and `docker build` may be offline).
// Otherwise node-gyp falls back to its usual download into its cache.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const addonDir = dirname(fileURLToPath(import.meta.url));

function localHeadersPrefix() {
  const prefix = dirname(dirname(process.execPath));
  const versionHeader = join(prefix, 'include', 'node', 'node_version.h');
  if (!existsSync(join(prefix, 'include', 'node', 'openssl', 'evp.h')) || !existsSync(versionHeader)) return null;
  const text = readFileSync(versionHeader, 'utf8');
  const part = (name) => text.match(new RegExp(`#define NODE_${name}_VERSION (\\d+)`))?.[1];
  const version = `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
  return version === process.versions.node ? prefix : null;
}

const args = ['rebuild', '-C', addonDir];
if (!process.env.npm_config_nodedir) {
  const prefix = localHeadersPrefix();
  if (prefix) args.push(`--nodedir=${prefix}`);
}

// npm tells scripts where its bundled node-gyp is; outside npm, look for npm's copy beside this
// node (<prefix>/lib/node_modules/npm/...), then for a node-gyp on PATH.
const besideNode = join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const bundled = process.env.npm_config_node_gyp ?? (existsSync(besideNode) ? besideNode : undefined);
const [command, commandArgs] = bundled ? [process.execPath, [bundled, ...args]] : ['node-gyp', args];
const result = spawnSync(command, commandArgs, { stdio: 'inherit' });
if (result.error) {
  console.error(`build:native: could not run node-gyp (${result.error.message}); run it through npm: npm run build:native`);
  process.exit(1);
}
process.exit(result.status ?? 1);
