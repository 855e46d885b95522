/**
 * The client SDK's HTTP side against the real control plane (wrangler dev, workerd) on the
 * local libSQL server: accounts, tokens and their renewal, minted tokens, channels, errors.
 * Access tokens live 10 s here (the shortest the control plane allows), so renewals happen
 * within the test.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, ClosedError, ConnectionError, NotSignedInError, ParleyClient, ProtocolError, type TokenPair } from '../../packages/client/src/index.js';
import { freePort } from '../../cli/relay-process.js';
import { mintToken, startClientTestStack, type ClientTestStack } from '../support/client-stack.js';

let stack: ClientTestStack;
const clients: ParleyClient[] = [];

beforeAll(async () => {
  stack = await startClientTestStack({ bindings: { ACCESS_TOKEN_TTL_SECONDS: '10', APP_TOKEN_MAX_TTL_SECONDS: '60' } });
}, 150_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await stack?.stop();
});

const PASSWORD = 'correct horse battery staple';
const uniqueName = (prefix: string) => `${prefix}${randomBytes(4).toString('hex')}`;

function newClient(): ParleyClient {
  const client = new ParleyClient({ baseUrl: stack.controlUrl });
  clients.push(client);
  return client;
}

function nextEvent<T>(subscribe: (resolve: (value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve) => subscribe(resolve));
}

async function rawMe(token: string): Promise<number> {
  const response = await fetch(`${stack.controlUrl}/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  await response.body?.cancel();
  return response.status;
}

describe('accounts', () => {
  it('registers, is signed in as the new account, and hands out the token pair to store', async () => {
    const client = newClient();
    const username = uniqueName('alice');
    const stored = nextEvent<TokenPair>((resolve) => client.once('credentials', resolve));
    const pair = await client.register(username, PASSWORD);
    expect((await stored).refreshToken).toBe(pair.refreshToken);
    expect(client.signedIn).toBe(true);
    expect(client.identity).toMatchObject({ subject: pair.user.id, sessionId: pair.sessionId, user: { username } });
    const me = await client.me();
    expect(me.kind).toBe('account');
    expect(me.kind === 'account' && me.user.id).toBe(pair.user.id);
  });

  it('logs in; a wrong password and a taken name are ApiErrors with their codes', async () => {
    const username = uniqueName('bob');
    await newClient().register(username, PASSWORD);
    const client = newClient();
    await expect(client.login(username, 'not the password at all')).rejects.toMatchObject({ name: 'ApiError', status: 401, code: 'invalid_credentials' });
    expect(client.signedIn).toBe(false);
    await expect(client.me()).rejects.toBeInstanceOf(NotSignedInError);
    await expect(newClient().register(username.toUpperCase(), PASSWORD)).rejects.toMatchObject({ status: 409, code: 'username_taken' });
    const invalid = await newClient().register('x', PASSWORD).catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(ApiError);
    expect(invalid).toMatchObject({ code: 'validation_failed', field: 'username' });
    expect((invalid as ApiError).requestId).toMatch(/^req_/);
    await client.login(username.toUpperCase(), PASSWORD);
    expect(client.identity?.user?.username).toBe(username);
  });

  it('renews the access token before it expires: the old one still works when the new one arrives', async () => {
    const client = newClient();
    const first = await client.register(uniqueName('carol'), PASSWORD);
    const renewed = await nextEvent<{ expiresAt: number }>((resolve) => client.once('tokenRenewed', resolve));
    // Renewed early: the token it replaced is still accepted by the server at this moment.
    expect(await rawMe(first.accessToken)).toBe(200);
    const current = await client.accessToken();
    expect(current).not.toBe(first.accessToken);
    expect(renewed.expiresAt).toBeGreaterThan(first.accessTokenExpiresAt);
    expect(client.identity?.sessionId).toBe(first.sessionId); // the same login
    expect((await client.me()).kind).toBe('account');
  }, 30_000);

  it('resumes a stored login from its refresh token, in a new client', async () => {
    const first = newClient();
    let latest: TokenPair | null = null;
    first.on('credentials', (pair) => (latest = pair));
    const pair = await first.register(uniqueName('dave'), PASSWORD);
    await first.close(); // one holder per refresh token: the first client stops using it
    const second = newClient();
    const resumed = await second.useRefreshToken(latest!.refreshToken);
    expect(resumed.sessionId).toBe(pair.sessionId);
    expect(resumed.refreshToken).not.toBe(pair.refreshToken);
    expect((await second.me()).kind).toBe('account');
  });

  it('signs out when the server refuses the refresh token (the login ended elsewhere)', async () => {
    const client = newClient();
    const pair = await client.register(uniqueName('erin'), PASSWORD);
    // The login is ended behind the client's back (as a password change elsewhere would).
    const logout = await fetch(`${stack.controlUrl}/v1/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${pair.accessToken}` } });
    expect(logout.status).toBe(204);
    const signedOut = nextEvent<{ reason: string }>((resolve) => client.once('signedOut', resolve));
    await expect(client.refresh()).rejects.toMatchObject({ status: 401, code: 'invalid_refresh_token' });
    expect((await signedOut).reason).toBe('refresh_refused');
    expect(client.signedIn).toBe(false);
    await expect(client.me()).rejects.toBeInstanceOf(NotSignedInError);
  });

  it('logout ends the login on the server', async () => {
    const client = newClient();
    const pair = await client.register(uniqueName('frank'), PASSWORD);
    const signedOut = nextEvent<{ reason: string }>((resolve) => client.once('signedOut', resolve));
    await client.logout();
    expect((await signedOut).reason).toBe('logout');
    expect(await rawMe(pair.accessToken)).toBe(401);
    await client.logout(); // signed out already: nothing to do
  });
});

describe('tokens minted by an app server', () => {
  it('uses a minted token and renews it through the app callback before it expires', async () => {
    const channel = await newClient()
      .register(uniqueName('owner'), PASSWORD)
      .then(() => clients.at(-1)!.channels.create({ name: 'Minted', visibility: 'open' }));
    const userId = `user-${randomBytes(3).toString('hex')}`;
    let minted = 0;
    const mint = async () => {
      minted++;
      return (await mintToken(stack, { userId, displayName: 'Grace', grants: [{ channelId: channel.id, permissions: ['speak', 'listen'] }], ttlSeconds: 10 })).accessToken;
    };
    const client = newClient();
    const first = await mint();
    client.useToken(first, { renew: mint });
    expect(client.identity?.subject).toMatch(/^ak_[a-z2-7]{26}:user-/);
    const me = await client.me();
    expect(me).toMatchObject({ kind: 'app_user', externalUserId: userId, displayName: 'Grace' });
    expect((await client.channels.get(channel.id)).id).toBe(channel.id);
    await nextEvent((resolve) => client.once('tokenRenewed', resolve));
    expect(minted).toBe(2);
    expect(await rawMe(first)).toBe(200); // renewed while the first was still good
    expect(await client.accessToken()).not.toBe(first);
  }, 30_000);

  it('renews once and retries when the server refuses the token it holds', async () => {
    const userId = `user-${randomBytes(3).toString('hex')}`;
    const good = (await mintToken(stack, { userId, displayName: 'Heidi', grants: [{ channelId: '*', permissions: ['listen'] }] })).accessToken;
    // Same claims, broken signature: the client cannot tell, the server refuses it.
    const [header, payload] = good.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(86)}`;
    let renewals = 0;
    const client = newClient();
    client.useToken(forged, { renew: async () => (renewals++, good) });
    expect((await client.me()).kind).toBe('app_user');
    expect(renewals).toBe(1);
  });

  it('a token without a renew function is used as it is, and signs the client out when it expires', async () => {
    const good = (await mintToken(stack, { userId: 'user-x', displayName: 'Ivy', grants: [{ channelId: '*', permissions: ['listen'] }] })).accessToken;
    const [header, payload] = good.split('.');
    const client = newClient();
    client.useToken(`${header}.${payload}.${'A'.repeat(86)}`);
    await expect(client.me()).rejects.toMatchObject({ name: 'ApiError', status: 401, code: 'unauthorized' });
    expect(client.signedIn).toBe(true);

    const expired = newClient();
    const signedOut = nextEvent<{ reason: string }>((resolve) => expired.once('signedOut', resolve));
    expired.useToken(`e30.${Buffer.from(JSON.stringify({ sub: 'usr_x', iat: 1, exp: 2 })).toString('base64url')}.c2ln`);
    expect((await signedOut).reason).toBe('token_expired');
    expect(() => client.useToken('not a token')).toThrow(TypeError);
  });
});

describe('channels', () => {
  it('creates, lists (page by page), reads, joins and lists members', async () => {
    const owner = newClient();
    await owner.register(uniqueName('olga'), PASSWORD);
    const created = [];
    for (let i = 0; i < 3; i++) created.push(await owner.channels.create({ name: `Room ${i}`, visibility: i === 0 ? 'open' : 'private', memberLimit: 5 }));
    expect(created[0]).toMatchObject({ name: 'Room 0', visibility: 'open', memberLimit: 5, memberCount: 1, you: { role: 'owner' } });

    const page = await owner.channels.list({ membership: 'member', limit: 2 });
    expect(page.channels).toHaveLength(2);
    expect(page.nextCursor).not.toBeNull();
    const all = [];
    for await (const channel of owner.channels.all({ membership: 'member', limit: 2 })) all.push(channel.id);
    expect(all).toEqual(created.map((c) => c.id));

    const member = newClient();
    const pair = await member.register(uniqueName('pete'), PASSWORD);
    await expect(member.channels.get(created[1]!.id)).rejects.toMatchObject({ status: 404, code: 'not_found' });
    expect(await member.channels.join(created[0]!.id)).toMatchObject({ userId: pair.user.id, role: 'member' });
    const members = await owner.channels.members(created[0]!.id);
    expect(members.members.map((m) => m.userId)).toContain(pair.user.id);
    await member.channels.leave(created[0]!.id);
    await expect(owner.channels.create({ name: '' })).rejects.toMatchObject({ code: 'validation_failed', field: 'name' });
    await owner.channels.delete(created[2]!.id);
    await expect(owner.channels.get(created[2]!.id)).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('reaching the control plane', () => {
  it('names a URL where nothing listens (ConnectionError) and one that is not Parley (ProtocolError)', async () => {
    const nowhere = new ParleyClient({ baseUrl: `http://127.0.0.1:${await freePort('tcp')}` });
    await expect(nowhere.login('someone', PASSWORD)).rejects.toBeInstanceOf(ConnectionError);
    const notParley = new ParleyClient({ baseUrl: stack.libsql.url });
    await expect(notParley.login('someone', PASSWORD)).rejects.toBeInstanceOf(ProtocolError);
    expect(() => new ParleyClient({ baseUrl: 'not a url' })).toThrow(TypeError);
    expect(() => new ParleyClient({ baseUrl: 'ftp://example.org' })).toThrow(TypeError);
  });

  it('close() is idempotent and later calls are refused', async () => {
    const client = newClient();
    await client.register(uniqueName('ivan'), PASSWORD);
    const signedOut = nextEvent<{ reason: string }>((resolve) => client.once('signedOut', resolve));
    await Promise.all([client.close(), client.close()]);
    expect((await signedOut).reason).toBe('closed');
    await expect(client.me()).rejects.toBeInstanceOf(ClosedError);
    expect(() => client.useToken('x')).toThrow(ClosedError);
  });
});
