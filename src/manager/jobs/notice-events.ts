/** A completion notice as the events it tells (the event stream's, read by the completion follower). */
import type { NoticeDocument } from '../../store/index.js';

/** One thing that happened to a job, as the event stream tells it. */
export interface FollowedEvent {
  kind: 'accepted' | 'started' | 'progress' | 'completed' | 'failed' | 'cancelled';
  id: string;
  at: Date;
  type?: string;
  group?: string;
  attempt?: number;
  percent?: number;
  data?: unknown;
}

/** A notice's events in order: its starts and progress, then its ends. */
export function noticeEvents(notice: NoticeDocument): FollowedEvent[] {
  const events: FollowedEvent[] = (notice.events ?? []).map((event) => ({
    kind: event.kind,
    id: event.id,
    at: event.at,
    type: event.type,
    ...(event.group !== undefined ? { group: event.group } : {}),
    attempt: event.attempt,
    ...(event.percent !== undefined ? { percent: event.percent } : {}),
    ...(event.data !== undefined ? { data: event.data } : {}),
  }));
  for (const entry of notice.entries) {
    events.push({
      kind: entry.state,
      id: entry.id,
      at: entry.at,
      ...(entry.type !== undefined ? { type: entry.type } : {}),
      ...(entry.group !== undefined ? { group: entry.group } : {}),
    });
  }
  return events;
}
