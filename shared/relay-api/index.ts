/**
 * The relay internal API (docs/protocol.md §8): request signing, sealed session keys and
 * message schemas. Pure code shared by the relay (Node) and the control plane (workerd).
 */
export { decodeBase64Url, encodeBase64Url } from './base64url.js';
export { assertRelayApiId, assertRelayBootId, isRelayApiId, isRelayBootId, MAX_RELAY_API_ID_LENGTH, RELAY_BOOT_ID_LENGTH } from './ids.js';
export * from './messages.js';
export * from './request-signing.js';
export * from './sealed-keys.js';
export * from './relay-api-client.js';
