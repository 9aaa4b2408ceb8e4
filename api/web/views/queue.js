// One buyer's place in an event's waiting room, as the page sees it: joinQueue, then live
// from `queueUpdates`. The subscription is the normal path; `queueStatus` is polled at the
// room's own suggested interval (pollAfterMs) only while the subscription cannot deliver
// (refused, or ended before a final state), so ten thousand waiting pages do not double the
// API's reads. After a reconnect the place is read once: changes meanwhile were not sent.

import { gql } from '../gql.js';
import { subscriptions } from '../ws.js';

const FIELDS = `roomOn state position ahead etaSeconds queued admission admissionExpiresAt
  seatsMayComeBack pollAfterMs message`;
const STATUS = `query Queue($e: ID!) { queueStatus(eventId: $e) { ${FIELDS} } }`;
const JOIN = `mutation Join($e: ID!) { joinQueue(eventId: $e) {
  success message failureReason status { ${FIELDS} } } }`;
const UPDATES = `subscription QueueUpdates($e: ID!) { queueUpdates(eventId: $e) { ${FIELDS} } }`;

// After these the room sends nothing more (api/resolvers/queue.py ends the stream).
export const FINAL = new Set(['TURN_EXPIRED', 'SOLD_OUT', 'CLOSED']);
// States with a place worth following live.
const QUEUED = new Set(['PRE_QUEUE', 'WAITING', 'ADMITTED']);

export class Queue {
  // onStatus(status) on every answer the page should show.
  constructor(eventId, onStatus) {
    this.eventId = eventId;
    this.onStatus = onStatus;
    this.status = null;
    this.stop = null;
    this.timer = null;
    this.byPolling = false; // the subscription failed: stay on queueStatus from then on
  }

  // The admission to pass to a hold, while the turn lasts on this page's clock; the API
  // checks the same expiry, so a stale one would only be refused NOT_ADMITTED.
  get admission() {
    const s = this.status;
    if (!s || s.state !== 'ADMITTED' || !s.admission) return null;
    return this.turnLeft() > 0 ? s.admission : null;
  }

  turnLeft() {
    const s = this.status;
    if (!s || !s.admissionExpiresAt) return 0;
    return new Date(s.admissionExpiresAt).getTime() - Date.now();
  }

  async read() {
    this.update((await gql(STATUS, { e: this.eventId })).queueStatus);
  }

  async join() {
    const result = (await gql(JOIN, { e: this.eventId })).joinQueue;
    if (result.status) this.update(result.status);
    return result;
  }

  update(status) {
    if (this.closed) return; // an answer that arrives after the buyer left the page
    this.status = status;
    if (FINAL.has(status.state) || !status.roomOn) this.quiet();
    else if (QUEUED.has(status.state)) this.follow();
    this.onStatus(status);
  }

  follow() {
    if (this.byPolling) {
      if (!this.timer) this.poll();
      return;
    }
    if (this.stop) return;
    this.stop = subscriptions.subscribe(UPDATES, { e: this.eventId }, {
      next: (payload) => {
        const status = payload.data && payload.data.queueUpdates;
        if (status) this.update(status);
      },
      restarted: () => this.read().catch(() => {}),
      // Refused (a limit on subscriptions, a server without them): ask over HTTP instead.
      error: () => this.fallBack(),
      // Ended before a final state (the server went away mid-stream): keep asking.
      complete: () => this.fallBack(),
    });
  }

  fallBack() {
    this.stop = null;
    this.byPolling = true;
    if (this.status && !FINAL.has(this.status.state) && this.status.roomOn) this.poll();
  }

  poll() {
    clearTimeout(this.timer);
    const wait = (this.status && this.status.pollAfterMs) || 2000;
    this.timer = setTimeout(async () => {
      this.timer = null;
      try {
        await this.read();
      } catch {
        // A failed read is tried again at the same pace; the page keeps the last place.
      }
      if (!this.closed && this.status && !FINAL.has(this.status.state) && this.status.roomOn && !this.timer) this.poll();
    }, wait);
  }

  quiet() {
    if (this.stop) this.stop();
    this.stop = null;
    clearTimeout(this.timer);
    this.timer = null;
  }

  close() {
    this.closed = true;
    this.quiet();
  }
}
