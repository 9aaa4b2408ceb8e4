// One buyer's checkout of one event, as the page sees it: the API's mutations, the live
// progress from `checkoutProgress`, and where the checkout's id is kept across reloads.

import { gql } from '../gql.js';
import { session } from '../session.js';
import { subscriptions } from '../ws.js';

const STATE = `id eventId status seatIds expiresAt extensionsUsed amount currency
  bookingReference failureReason failureMessage`;
const RESULT = `success message failureReason takenSeatIds`;
// A refused hold may name a checkout whose workflow never started: only its id is asked for.
// `admission`: the buyer's turn in the event's waiting room (null when it has none).
const START = `mutation Start($e: ID!, $s: [ID!]!, $a: String) {
  startCheckout(eventId: $e, seatIds: $s, admission: $a) { ${RESULT} openCheckoutId checkout { id } } }`;
const HOLD = `mutation Hold($c: ID!, $s: [ID!]!, $a: String) {
  holdSeats(checkoutId: $c, seatIds: $s, admission: $a) { ${RESULT} checkout { id } } }`;
const EXTEND = `mutation Extend($c: ID!) { extendHold(checkoutId: $c) { ${RESULT} checkout { ${STATE} } } }`;
const PAY = `mutation Pay($c: ID!, $t: String) {
  submitPayment(checkoutId: $c, paymentToken: $t) { ${RESULT} checkout { ${STATE} } } }`;
const CANCEL = `mutation Cancel($c: ID!) { cancelCheckout(checkoutId: $c) { ${RESULT} checkout { ${STATE} } } }`;
const READ = `query Checkout($c: ID!) { checkout(id: $c) { ${STATE} } }`;
const PROGRESS = `subscription Progress($c: ID!) { checkoutProgress(checkoutId: $c) { ${STATE} } }`;

export const TERMINAL = new Set(['CONFIRMED', 'FAILED', 'CANCELLED', 'EXPIRED']);

export class Checkout {
  // onState(state) on every change the page should show; a terminal state ends the checkout.
  constructor(eventId, onState) {
    this.eventId = eventId;
    this.onState = onState;
    this.state = null;
    this.stop = null;
  }

  get key() {
    return `tb.checkout.${session.user ? session.user.id : '-'}.${this.eventId}`;
  }

  get open() {
    return Boolean(this.state && !TERMINAL.has(this.state.status));
  }

  // The buyer's checkout of this event from before a reload, if it is still open.
  async resume() {
    const id = sessionStorage.getItem(this.key);
    if (!id || !session.user) return;
    try {
      await this.adopt(id);
    } catch {
      sessionStorage.removeItem(this.key);
    }
  }

  async adopt(id) {
    const state = (await gql(READ, { c: id })).checkout;
    if (!state || TERMINAL.has(state.status)) {
      sessionStorage.removeItem(this.key);
      return;
    }
    this.update(state);
    this.watch(id);
  }

  update(state) {
    this.state = state;
    if (TERMINAL.has(state.status)) {
      sessionStorage.removeItem(this.key);
      this.unwatch();
    } else {
      sessionStorage.setItem(this.key, state.id);
    }
    this.onState(state);
  }

  watch(id) {
    this.unwatch();
    const read = () => gql(READ, { c: id }).then((d) => d.checkout && this.mine(d.checkout));
    this.stop = subscriptions.subscribe(PROGRESS, { c: id }, {
      next: (payload) => {
        const state = payload.data && payload.data.checkoutProgress;
        if (state) this.mine(state);
      },
      // Changes made while the socket was down were not sent: read where it is now.
      restarted: () => read().catch(() => {}),
    });
  }

  mine(state) {
    if (this.state && this.state.id === state.id) this.update(state);
  }

  unwatch() {
    if (this.stop) this.stop();
    this.stop = null;
  }

  // Holds the seats: a new checkout, or more seats for the open one, with the waiting room's
  // admission if the event has one. Answers the API's payload ({success, failureReason,
  // takenSeatIds, message}).
  async hold(seatIds, admission = null) {
    let result;
    if (this.open) {
      result = (await gql(HOLD, { c: this.state.id, s: seatIds, a: admission })).holdSeats;
    } else {
      result = (await gql(START, { e: this.eventId, s: seatIds, a: admission })).startCheckout;
      if (result.failureReason === 'CHECKOUT_ALREADY_OPEN' && result.openCheckoutId) {
        // This buyer's checkout from another tab or an earlier visit: the seats go into it.
        await this.adopt(result.openCheckoutId);
        if (this.open) return this.hold(seatIds, admission);
      }
    }
    if (result.success) {
      const id = result.checkout.id;
      const state = (await gql(READ, { c: id })).checkout;
      this.update(state);
      this.watch(id);
    }
    return result;
  }

  async extend() {
    const result = (await gql(EXTEND, { c: this.state.id })).extendHold;
    if (result.checkout) this.mine(result.checkout);
    return result;
  }

  async pay(token) {
    const result = (await gql(PAY, { c: this.state.id, t: token })).submitPayment;
    if (result.checkout) this.mine(result.checkout);
    return result;
  }

  async cancel() {
    const result = (await gql(CANCEL, { c: this.state.id })).cancelCheckout;
    if (result.checkout) this.mine(result.checkout);
    return result;
  }

  close() {
    this.unwatch();
  }
}
