/**
 * The load test's voice payload: who sent it, which frame, when, and a fill the receiver checks,
 * so a listener can measure one-way latency (sender and receiver share this host's clock) and
 * tell a correctly re-protected copy from a wrong one.
 *
 *   bytes 0-3    magic "PLT1"
 *   bytes 4-7    run tag (random per run): a stray packet of another run is not counted
 *   bytes 8-11   speaker index in the run
 *   bytes 12-15  frame number of that speaker
 *   bytes 16-23  send time, ms since the Unix epoch (float64, sub-millisecond)
 *   bytes 24-    fill: (speaker × 31 + frame + i) mod 256 at byte i
 */
export const VOICE_PAYLOAD_HEADER_BYTES = 24;
const MAGIC = 0x504c5431; // "PLT1"

export interface VoicePayloadFields {
  readonly speaker: number;
  readonly frame: number;
  readonly sentAtMs: number;
}

export function writeVoicePayload(target: Uint8Array, runTag: number, fields: VoicePayloadFields): Uint8Array {
  if (target.length < VOICE_PAYLOAD_HEADER_BYTES) throw new RangeError(`voice payload: at least ${VOICE_PAYLOAD_HEADER_BYTES} bytes`);
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint32(0, MAGIC);
  view.setUint32(4, runTag >>> 0);
  view.setUint32(8, fields.speaker >>> 0);
  view.setUint32(12, fields.frame >>> 0);
  view.setFloat64(16, fields.sentAtMs);
  const seed = (fields.speaker * 31 + fields.frame) & 0xff;
  for (let i = VOICE_PAYLOAD_HEADER_BYTES; i < target.length; i++) target[i] = (seed + i) & 0xff;
  return target;
}

/** The fields of a payload of this run, or null if it is not one (wrong magic, run, or fill). */
export function readVoicePayload(payload: Uint8Array, runTag: number, expectedBytes: number): VoicePayloadFields | null {
  if (payload.length !== expectedBytes || payload.length < VOICE_PAYLOAD_HEADER_BYTES) return null;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if (view.getUint32(0) !== MAGIC || view.getUint32(4) !== runTag >>> 0) return null;
  const speaker = view.getUint32(8);
  const frame = view.getUint32(12);
  const seed = (speaker * 31 + frame) & 0xff;
  for (let i = VOICE_PAYLOAD_HEADER_BYTES; i < payload.length; i++) if (payload[i] !== ((seed + i) & 0xff)) return null;
  return { speaker, frame, sentAtMs: view.getFloat64(16) };
}
