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
export { VoiceSession, type ExportedSrtpParameters, type JoinVoiceOptions, type ModerationAction, type VoiceCloseReason, type VoiceFrame, type VoiceSessionEvents } from './voice-session.js';
export type { RosterEntry, ResumedVoice } from '../../../shared/client/voice-messages.js';
export { MediaTransport, type MediaKeys, type MediaTransportEvents, type MediaTransportOptions, type MediaTransportStats, type ReceivedFrame, type UdpEndpoint } from './media-transport.js';
export type { JitterBufferOptions, JitterStats } from '../../../shared/client/jitter-buffer.js';
export type { KeepaliveScheduleOptions } from '../../../shared/client/keepalive-schedule.js';
export type { RoundTripStats } from '../../../shared/client/round-trip.js';
export type { SrtpMasterKeys } from '../../../shared/srtp/master-keys.js';
export type { SrtpProfileName } from '../../../shared/srtp/profiles.js';
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
