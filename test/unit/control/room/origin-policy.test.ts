import { describe, expect, it } from 'vitest';
import { isOriginAllowed } from '../../../../control/src/room/origin-policy.js';

describe('voice socket origins (§5.2)', () => {
  const production = { allowedOrigins: new Set(['https://app.example.com']), allowLoopbackOrigins: false };
  const development = { allowedOrigins: new Set<string>(), allowLoopbackOrigins: true };

  it('allows native clients (no Origin) and listed origins only, in production', () => {
    expect(isOriginAllowed(undefined, production)).toBe(true);
    expect(isOriginAllowed('https://app.example.com', production)).toBe(true);
    expect(isOriginAllowed('https://app.example.com.evil.net', production)).toBe(false);
    expect(isOriginAllowed('http://app.example.com', production)).toBe(false);
    expect(isOriginAllowed('http://localhost:5173', production)).toBe(false);
    expect(isOriginAllowed('null', production)).toBe(false);
  });

  it('allows loopback pages on any port in development, nothing else', () => {
    expect(isOriginAllowed('http://localhost:5173', development)).toBe(true);
    expect(isOriginAllowed('https://127.0.0.1:8443', development)).toBe(true);
    expect(isOriginAllowed('http://[::1]:3000', development)).toBe(true);
    expect(isOriginAllowed('http://localhost.evil.net', development)).toBe(false);
    expect(isOriginAllowed('http://localhost:5173/path', development)).toBe(false);
    expect(isOriginAllowed('file://', development)).toBe(false);
  });
});
