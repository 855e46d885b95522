/**
 * Who may moderate whom in a room (docs/protocol.md §5.7): server mute, kick and ban all need
 * `moderate`, and follow the channel's hierarchy (channels/access.ts decideMemberChange, the
 * rules a ban through the HTTP API follows): nobody moderates the owner or themselves, and
 * only the owner (or an operator) moderates an admin. Decided on fresh facts from the
 * database, so a demotion takes effect at once. Bans go through channels/ban-service.ts, which
 * decides again inside its own transaction.
 */
import { and, eq } from 'drizzle-orm';
import type { Principal } from '../auth/principal.js';
import { decideMemberChange, type AccessRefusal } from '../channels/access.js';
import { loadChannel } from '../channels/channel-service.js';
import { channelAccess } from '../channels/access.js';
import type { Database } from '../db/client.js';
import { channelMembers } from '../db/schema.js';

export async function decideModeration(db: Database, actor: Principal, channelId: string, targetSubject: string): Promise<'allowed' | AccessRefusal> {
  const loaded = await loadChannel(db, actor, channelId);
  if (loaded === null) return 'not_found';
  const access = channelAccess(actor, loaded);
  const rows = await db
    .select({ role: channelMembers.role })
    .from(channelMembers)
    .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.userId, targetSubject)))
    .limit(1);
  return decideMemberChange(
    actor,
    access,
    { subject: targetSubject, currentRole: rows[0]?.role ?? null, isOwner: loaded.channel.ownerId === targetSubject },
    { kind: 'ban' },
  );
}
