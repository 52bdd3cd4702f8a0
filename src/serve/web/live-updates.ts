// The live stream (/api/events): each new revision a writer commits arrives as an event; the
// page reloads what it shows (a burst of revisions is one reload). On every (re)connection the
// page reloads too, so nothing committed while it was away is missed.

import type { RevisionEvent } from '../dashboard-api-types.ts';

export interface LiveHandlers {
  /** Connected (first time or again): reload everything. */
  readonly connected: () => void;
  readonly disconnected: () => void;
  readonly revision: (event: RevisionEvent) => void;
}

export function followRevisions(handlers: LiveHandlers): EventSource {
  const source = new EventSource('/api/events', { withCredentials: true });
  source.addEventListener('open', () => { handlers.connected(); });
  source.addEventListener('error', () => { handlers.disconnected(); });
  source.addEventListener('revision', (message: MessageEvent<string>) => {
    let event: RevisionEvent;
    try {
      event = JSON.parse(message.data) as RevisionEvent;
    } catch {
      return;
    }
    handlers.revision(event);
  });
  return source;
}
