/**
 * @parley/client — the Parley client for Node.js.
 *
 *   const parley = new ParleyClient({ baseUrl: 'https://parley-control.example.workers.dev' });
 *   await parley.login('alice', 'correct horse battery staple');
 *   const channel = await parley.channels.create({ name: 'Team', visibility: 'open' });
 *
 * See README.md and docs/client-sdk.md.
 */
export { ParleyClient, ChannelsApi, CLIENT_VERSION, type ParleyClientOptions, type ParleyClientEvents, type UseTokenOptions } from './parley-client.js';
export type { CreateChannelInput, ListChannelsInput, PageInput } from './control-api.js';
export type { Identity, SignedOutReason, TokenSource, CredentialEvents } from './credentials.js';
export { ParleyError, ApiError, ConnectionError, ProtocolError, NotSignedInError, ClosedError, VoiceError } from './errors.js';
export type {
  Channel,
  ChannelPage,
  ChannelStanding,
  Grant,
  KnownOr,
  Me,
  Member,
  MemberPage,
  Permission,
  TokenPair,
  User,
  ApiErrorCode,
} from '../../../shared/client/control-api-schemas.js';
