/**
 * The node options the relay runs with, wherever it runs compiled: the Dockerfile's CMD,
 * `npm run relay`, the local stack and the benchmarks (test/e2e/relay-compiled.test.ts keeps the
 * Dockerfile and package.json equal to this).
 *
 * - `--enable-source-maps`: stack traces name the TypeScript sources.
 * - `--max-semi-space-size=8` (MiB): the main thread's young generation stays at the 2 × 8 MiB
 *   it reaches on its first installs. Without it, a burst of installs (10,000 sessions in
 *   `npm run bench:relay`) made V8 double it to 2 × 16 MiB and keep it: about 1.7 KB per
 *   installed session of RSS that no session uses (docs/performance.md, memory). The main
 *   thread runs the internal API, not the packet path (the workers do, each capped at 8 MiB of
 *   young generation by their resourceLimits), so the smaller nursery costs no voice latency.
 */
export const RELAY_NODE_FLAGS: readonly string[] = ['--enable-source-maps', '--max-semi-space-size=8'];
