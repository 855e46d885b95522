/**
 * The local libSQL server: Hrana over HTTP on 127.0.0.1, served from a SQLite file by the
 * `libsql` engine. It stands in for Turso in local development and tests, so the control plane
 * runs the same @libsql/client HTTP code path everywhere. docs/local-libsql.md says what it
 * does and does not emulate.
 */
export { DEFAULT_LIMITS, LOOPBACK_HOST, startLibsqlServer, type LibsqlServer, type LibsqlServerOptions } from './http-server.js';
export { IN_MEMORY } from './local-database.js';
