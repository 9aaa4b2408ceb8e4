// An event's page: the live seat map, choosing seats (map, keyboard or best available), the
// hold with its countdown, paying with a sandbox test card, and the outcome in words. An
// event with a waiting room shows the queue first: seats can be chosen in the buyer's turn,
// and every hold carries the turn's admission.

import { gql } from '../gql.js';
import { cents, countdown, money, reason, seatPlace, PROGRESS_WORDS, SEAT_TYPES, when } from '../format.js';
import { session } from '../session.js';
import { h, replace, announce, showError, clearError, field } from '../ui.js';
import { subscriptions } from '../ws.js';
import { Checkout, TERMINAL } from './checkout.js';
import { Queue } from './queue.js';
import { QueuePanel, queueWords } from './queue_panel.js';
import { SeatMap } from './seatmap.js';

const EVENT = `query Event($e: ID!) { event(id: $e) {
  id name description eventDate status currency maxTicketsPerBuyer maxSeatsPerCheckout availableSeats
  onSaleAt waitingRoom venue { name address } } }`;
const MAP = `query Map($e: ID!) { seatMap(eventId: $e) {
  width height seats { id section row number type price x y status } } }`;
const BEST = `query Best($e: ID!, $n: Int!, $s: String) {
  bestAvailable(eventId: $e, count: $n, section: $s) { id } }`;
const CHANGES = `subscription Changes($e: ID!) { seatMapChanges(eventId: $e) { kind seatIds } }`;

// What each announced change makes of its seats (api: activities/checkout.py, organizer).
const KINDS = {
  held: 'HELD',
  released: 'AVAILABLE',
  booked: 'BOOKED',
  cancelled: 'AVAILABLE',
  refunded: 'AVAILABLE',
  blocked: 'BLOCKED',
  unblocked: 'AVAILABLE',
};
// A live change newer than this before a seat-map read wins over that read: the map is
// cached for up to the API's staleness bound (1 s by default).
const STALE_MS = 2500;
const TURN_TITLE = "It's your turn · ";

// What names a control across a rebuild of its panel: a field's name, else a button's words.
const controlKey = (el) => el.name || el.textContent;

export const TEST_CARDS = [
  ['tok_visa', 'Visa 4242: approved'],
  ['tok_chargeDeclinedInsufficientFunds', 'Declined: insufficient funds'],
  ['tok_captureFails', 'Approved, then the capture fails'],
  ['tok_timeoutOnce', 'Processor times out once, then approves'],
];

class EventPage {
  constructor(main, eventId) {
    this.main = main;
    this.eventId = eventId;
    this.selection = [];
    this.changedAt = new Map();
    this.busy = false;
    this.stops = [];
    this.checkout = new Checkout(eventId, (state) => this.checkoutChanged(state));
    this.queue = null; // the waiting room, when the event has one
  }

  get selectionKey() {
    return `tb.selection.${this.eventId}`;
  }

  async mount() {
    // Subscribe first, then read the event and its map at once: a change that lands between
    // the subscription and the read is not lost (see loadMap), and neither read waits on the other.
    this.followMap();
    const asked = Date.now();
    const mapRead = gql(MAP, { e: this.eventId }).then((d) => d.seatMap, (error) => error);
    let event;
    try {
      event = (await gql(EVENT, { e: this.eventId })).event;
    } catch (error) {
      this.main.append(h('h1', {}, 'Event'));
      showError(`The event could not be loaded: ${error.message}`);
      return;
    }
    if (!event) {
      this.main.append(h('h1', {}, 'Event not found'), h('p', {}, h('a', { href: '/' }, 'All events')));
      return;
    }
    this.event = event;
    this.map = new SeatMap({ currency: event.currency, onActivate: (seat) => this.toggle(seat) });
    this.draw();
    if (event.waitingRoom) this.roomFound();
    this.applyMap(await mapRead, asked);
    this.selection = (JSON.parse(sessionStorage.getItem(this.selectionKey) || '[]'))
      .filter((id) => this.map.seat(id) && this.map.seat(id).status === 'AVAILABLE');
    await this.checkout.resume();
    this.renderSelection();
  }

  // The map's live changes. A stream the server ends (its feed of the event broke) is followed
  // again a second later, and the map read anew: what was published meanwhile was not heard.
  // Only the stream still followed is followed again: one the page left meanwhile (and any it
  // followed since) is not replaced, or that later one would be left open.
  followMap() {
    const again = () => {
      if (this.left || this.unfollow !== stop) return;
      setTimeout(() => {
        if (this.left || this.unfollow !== stop) return;
        this.unfollow = null;
        this.followMap();
        this.loadMap();
      }, 1000);
    };
    const stop = subscriptions.subscribe(CHANGES, { e: this.eventId }, {
      next: (payload) => this.changed(payload.data && payload.data.seatMapChanges),
      restarted: () => this.loadMap(),
      error: again,
      complete: again,
    });
    this.unfollow = stop;
  }

  // A buyer waiting in the queue cannot choose seats: its page does not follow the map (in an
  // on-sale, thousands of waiting pages would each be sent every change of the sale), and
  // follows it again, read anew, when seats may be chosen. The read may be as old as the
  // API's staleness bound, so it is read once more after it.
  followWhileChoosing() {
    if (!this.mayChoose()) {
      if (this.unfollow) this.unfollow();
      this.unfollow = null;
    } else if (!this.unfollow) {
      this.followMap();
      this.rereadMap();
    }
  }

  unmount() {
    this.left = true;
    if (this.unfollow) this.unfollow();
    clearTimeout(this.reread);
    for (const stop of this.stops) stop();
    this.checkout.close();
    if (this.queue) this.queue.close();
    clearInterval(this.timer);
    clearInterval(this.turnTimer);
  }

  draw() {
    const e = this.event;
    this.mapStatus = h('p', { class: 'hint', id: 'map-hint' },
      'Click a seat, or Tab to the map and use the arrow keys to move between seats and Enter ',
      'or Space to choose one. + and − zoom; drag or scroll to move around.');
    this.map.svg.setAttribute('aria-describedby', 'map-hint');
    this.selectionList = h('ul', { class: 'selection' });
    this.total = h('p', { class: 'total' });
    this.holdButton = h('button', { type: 'button', class: 'primary', onclick: () => this.hold() }, 'Hold seats');
    this.holdPanel = h('section', { class: 'hold card', 'aria-labelledby': 'hold-h', hidden: true });
    this.outcome = h('div', { class: 'outcome', hidden: true });
    this.queueSlot = h('div', { class: 'queue-slot' });
    const sale = e.status === 'ON_SALE' ? '' : ` · ${e.status.replace('_', ' ').toLowerCase()}`;
    this.main.append(
      h('h1', {}, e.name),
      h('p', { class: 'meta' },
        h('time', { datetime: e.eventDate }, when(e.eventDate)), ` · ${e.venue.name}, ${e.venue.address}`, sale),
      // Above the map, full width: on a phone the map would push it out of sight.
      this.queueSlot,
      h('div', { class: 'event-layout' },
        h('section', { class: 'map-area', 'aria-labelledby': 'map-h' },
          h('h2', { id: 'map-h' }, 'Seat map'), this.mapStatus, legend(), this.map.el),
        h('div', { class: 'panel' },
          this.outcome,
          this.holdPanel,
          h('section', { class: 'card', 'aria-labelledby': 'sel-h' },
            h('h2', { id: 'sel-h' }, 'Your seats'), this.selectionList, this.total,
            h('div', { class: 'actions' }, this.holdButton)),
          this.bestForm())),
    );
  }

  bestForm() {
    const count = h('select', { name: 'count' },
      Array.from({ length: this.event.maxSeatsPerCheckout }, (_, i) => h('option', { value: String(i + 1) }, String(i + 1))));
    count.value = '2';
    this.sectionSelect = h('select', { name: 'section' }, h('option', { value: '' }, 'Any section'));
    const form = h('form', { class: 'card best' },
      h('h2', {}, 'Best available'),
      h('div', { class: 'row' }, field('Number of seats', count), field('Section', this.sectionSelect)),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Find best seats')));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.best(Number(count.value), this.sectionSelect.value || null);
    });
    return form;
  }

  rereadMap() {
    this.loadMap();
    clearTimeout(this.reread);
    this.reread = setTimeout(() => this.loadMap(), STALE_MS);
  }

  async loadMap() {
    if (!this.map) return; // the first read is mount's, still under way
    const asked = Date.now();
    this.applyMap(await gql(MAP, { e: this.eventId }).then((d) => d.seatMap, (error) => error), asked);
  }

  applyMap(map, asked) {
    if (map instanceof Error) {
      showError(`The seat map could not be loaded: ${map.message}`);
      return;
    }
    // Seats that changed live since shortly before this read keep their live status: the
    // read may be as old as the API's staleness bound.
    for (const seat of map.seats) {
      const live = this.changedAt.get(seat.id);
      if (live && live.at > asked - STALE_MS) seat.status = live.status;
    }
    if (!this.map.seats.size) {
      this.map.load(map);
      const sections = [...new Set(map.seats.map((s) => s.section))];
      this.sectionSelect.append(...sections.map((s) => h('option', { value: s }, s)));
      this.svgReady();
    } else {
      for (const seat of map.seats) this.map.setStatus(seat.id, seat.status);
    }
  }

  svgReady() {
    // For tests and the bench: the moment the whole map is drawn.
    this.map.svg.dataset.ready = String(this.map.seats.size);
    performance.mark('seatmap-drawn');
  }

  changed(change) {
    if (!change) return;
    const status = KINDS[change.kind];
    if (!status) {
      // An event's own status changed (status:PAUSED ...) or a kind this page does not know.
      this.loadMap();
      return;
    }
    const now = Date.now();
    if (!this.map) {
      // Before the event and map are read: remembered, and applied over the map when it comes.
      for (const id of change.seatIds) this.changedAt.set(id, { at: now, status });
      return;
    }
    const mine = new Set(this.checkout.open ? this.checkout.state.seatIds : []);
    const lost = [];
    for (const id of change.seatIds) {
      // A confirmed checkout releases its locks after booking: that "released" frees no
      // booked seat (a booking undone says "cancelled" or "refunded" first).
      const seat = this.map.seat(id);
      if (change.kind === 'released' && seat && seat.status === 'BOOKED') continue;
      this.changedAt.set(id, { at: now, status });
      this.map.setStatus(id, status);
      if (status !== 'AVAILABLE' && this.selection.includes(id) && !mine.has(id) && !this.busy) lost.push(id);
    }
    if (lost.length) {
      this.selection = this.selection.filter((id) => !lost.includes(id));
      this.renderSelection();
      showError(`${lost.map((id) => seatPlace(this.map.seat(id))).join(', ')}: someone else got that seat first.`);
    }
  }

  // --- the waiting room ---

  // The event has a waiting room: said by Event.waitingRoom, or learnt from a hold refused
  // NOT_ADMITTED (the organizer turned the room on after this page was loaded).
  roomFound() {
    if (this.queue) return;
    this.queue = new Queue(this.eventId, (status) => this.queueChanged(status));
    this.queuePanel = new QueuePanel({ onJoin: () => this.join() });
    this.queueSlot.append(this.queuePanel.el);
    this.renderQueue();
    this.renderSelection();
    this.followWhileChoosing();
    if (session.user) {
      this.queue.read().catch((error) => showError(`Your place in the queue could not be read: ${error.message}`));
    }
  }

  // Seats may be chosen (and held) without a room, or in the buyer's live turn.
  mayChoose() {
    if (!this.queue) return true;
    if (this.queue.status && !this.queue.status.roomOn) return true; // the organizer turned it off
    return Boolean(this.queue.admission);
  }

  notYet() {
    const s = this.queue && this.queue.status;
    if (s && s.state === 'ADMITTED') return 'Your turn has ended: no more seats can be held.';
    if (s && s.state === 'SOLD_OUT') return 'Sold out: every seat is booked.';
    if (s && s.state === 'CLOSED') return 'This event is not selling tickets.';
    if (s && s.state === 'TURN_EXPIRED') return 'Seats cannot be chosen: your turn in the queue is over.';
    if (s && s.state !== 'NOT_QUEUED') return 'You can choose seats when it is your turn in the queue.';
    return 'This sale has a waiting room: join the queue, and choose seats when it is your turn.';
  }

  async join() {
    clearError();
    this.joining = true;
    this.renderQueue();
    try {
      const result = await this.queue.join();
      if (!result.success) showError(reason(result.failureReason, result.message));
    } catch (error) {
      showError(reason(error.code, error.message));
    } finally {
      this.joining = false;
      this.renderQueue();
    }
  }

  queueChanged(status) {
    // A turn that ran out with nothing held was lost; one that ended after a hold was used.
    if (this.lastState === 'ADMITTED' && status.state === 'TURN_EXPIRED' && !this.heldInTurn) this.lost = true;
    // A waiting page does not follow the map, so the seats it last read held would still show
    // held beside "Sold out": read it again (and once more past the API's staleness bound).
    if (status.state === 'SOLD_OUT' && this.lastState !== 'SOLD_OUT') this.rereadMap();
    this.lastState = status.state;
    clearInterval(this.turnTimer);
    this.turnTimer = null;
    if (status.state === 'ADMITTED') {
      this.turnTimer = setInterval(() => this.turnTick(), 250);
    }
    this.renderQueue();
    this.renderSelection();
    this.followWhileChoosing();
  }

  turnTick() {
    const left = this.queue.turnLeft();
    this.queuePanel.tick(left);
    if (left <= 0) {
      // Over on the page's clock: choosing stops now; the room's TURN_EXPIRED follows.
      clearInterval(this.turnTimer);
      this.turnTimer = null;
      if (!this.heldInTurn) this.lost = true;
      this.renderSelection();
    }
  }

  renderQueue() {
    if (!this.queuePanel) return;
    const status = this.queue.status;
    if (status && !status.roomOn) {
      this.queueSlot.hidden = true;
      return;
    }
    this.queueSlot.hidden = false;
    const holding = this.checkout.open;
    if (holding && status && status.state === 'ADMITTED') this.heldInTurn = true;
    const words = queueWords(this.event, {
      signedIn: Boolean(session.user), status, holding, lost: this.lost && !this.heldInTurn,
    });
    if (this.bought && status && status.state === 'TURN_EXPIRED') {
      words.title = 'You are through the queue';
      words.lines = ['Your booking is confirmed: your tickets are under My tickets.'];
      words.tone = 'turn';
    }
    this.queuePanel.render(words, this.joining);
    if (words.timer) this.queuePanel.tick(this.queue.turnLeft());
    // A buyer in another tab sees whose turn it is from the tab's title.
    // (The router names the page after this first runs: the title is read each time.)
    const base = document.title.replace(TURN_TITLE, '');
    document.title = status && status.state === 'ADMITTED' && !holding ? `${TURN_TITLE}${base}` : base;
  }

  // --- choosing ---

  toggle(seat) {
    clearError();
    if (this.selection.includes(seat.id)) {
      this.selection = this.selection.filter((id) => id !== seat.id);
      announce(`${seatPlace(seat)} removed from your seats.`);
    } else if (this.checkout.open && this.checkout.state.seatIds.includes(seat.id)) {
      announce(`${seatPlace(seat)} is already held for you.`);
      return;
    } else if (seat.status !== 'AVAILABLE') {
      showError(`${seatPlace(seat)} is ${seat.status.toLowerCase()}: choose an available seat.`);
      return;
    } else if (!this.mayChoose()) {
      showError(this.notYet());
      return;
    } else if (this.selection.length + this.heldCount() >= this.event.maxSeatsPerCheckout) {
      showError(`You can choose at most ${this.event.maxSeatsPerCheckout} seats at once.`);
      return;
    } else {
      this.selection = [...this.selection, seat.id];
      announce(`${seatPlace(seat)} chosen. ${this.selection.length} seat(s) chosen.`);
    }
    this.renderSelection();
  }

  heldCount() {
    return this.checkout.open ? this.checkout.state.seatIds.length : 0;
  }

  async best(count, section) {
    clearError();
    if (!this.mayChoose()) {
      showError(this.notYet());
      return;
    }
    try {
      const seats = (await gql(BEST, { e: this.eventId, n: count, s: section })).bestAvailable;
      if (!seats.length) {
        showError(`No ${count} seats together are available${section ? ` in ${section}` : ''}.`);
        return;
      }
      this.selection = seats.map((s) => s.id).filter((id) => this.map.seat(id));
      this.renderSelection();
      this.map.show(this.selection);
      const places = this.selection.map((id) => seatPlace(this.map.seat(id)));
      announce(`Best available: ${places.join(', ')}. Press Hold seats to hold them.`);
    } catch (error) {
      showError(`Best available seats could not be found: ${error.message}`);
    }
  }

  renderSelection() {
    sessionStorage.setItem(this.selectionKey, JSON.stringify(this.selection));
    this.map.setSelected(this.selection);
    const seats = this.selection.map((id) => this.map.seat(id));
    const empty = this.mayChoose()
      ? 'No seats chosen yet. Pick seats on the map or find the best available.'
      : this.notYet();
    replace(this.selectionList, seats.length
      ? seats.map((s) => h('li', {},
        h('span', {}, `${seatPlace(s)} · ${SEAT_TYPES[s.type] || s.type} · ${money(s.price, this.event.currency)}`),
        h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${seatPlace(s)}`, onclick: () => this.toggle(s) }, 'Remove')))
      : h('li', { class: 'empty' }, empty));
    const sum = seats.reduce((t, s) => t + cents(s.price), 0);
    this.total.textContent = seats.length ? `${seats.length} seat(s): ${money(sum, this.event.currency, true)}` : '';
    this.holdButton.disabled = this.busy || !seats.length || !this.mayChoose();
  }

  // --- the hold ---

  async hold() {
    clearError();
    if (!session.user) {
      const next = encodeURIComponent(location.pathname);
      showError('Sign in to hold seats.');
      replace(this.outcome, h('p', {}, 'Sign in to hold seats: ',
        h('a', { href: `/signin?next=${next}` }, 'Sign in'), ' or ', h('a', { href: `/register?next=${next}` }, 'Register'), '.'));
      this.outcome.hidden = false;
      return;
    }
    const seatIds = [...this.selection];
    this.setBusy(true);
    try {
      const result = await this.checkout.hold(seatIds, this.queue ? this.queue.admission : null);
      if (result.failureReason === 'NOT_ADMITTED') this.roomFound();
      if (result.success) {
        if (this.queue) this.heldInTurn = true;
        this.selection = [];
        announce(`${seatIds.length} seat(s) held for you.`);
        this.focusLater = '#hold-h';
      } else {
        const taken = result.takenSeatIds || [];
        for (const id of taken) this.map.setStatus(id, 'HELD');
        this.selection = this.selection.filter((id) => !taken.includes(id));
        const places = taken.map((id) => this.map.seat(id)).filter(Boolean).map(seatPlace);
        const text = reason(result.failureReason, result.message);
        showError(places.length ? `${places.join(', ')}: ${text}` : text);
      }
    } catch (error) {
      showError(reason(error.code, error.message));
    } finally {
      this.setBusy(false);
      this.renderSelection();
    }
  }

  setBusy(busy) {
    this.busy = busy;
    for (const button of this.main.querySelectorAll('.panel button')) button.disabled = busy;
    if (!busy) {
      this.renderSelection(); // "Hold seats" only with seats chosen
      this.renderHold();
    }
  }

  checkoutChanged(state) {
    const open = !TERMINAL.has(state.status);
    this.map.setMine(open ? state.seatIds : []);
    if (open) {
      for (const id of state.seatIds) this.map.setStatus(id, 'HELD');
      this.outcome.hidden = true;
      this.steps = this.steps || [];
    } else {
      this.finished(state);
    }
    this.track(state.status);
    this.renderHold();
    if (state.status === 'CONFIRMED') this.bought = true;
    this.renderQueue();
  }

  track(status) {
    if (!this.steps) this.steps = [];
    if (this.steps[this.steps.length - 1] !== status) {
      this.steps.push(status);
      if (!['HELD', 'OPEN'].includes(status)) announce(PROGRESS_WORDS[status] || status);
    }
  }

  finished(state) {
    clearInterval(this.timer);
    this.timer = null;
    const places = state.seatIds.map((id) => this.map.seat(id)).filter(Boolean).map(seatPlace);
    let text;
    if (state.status === 'CONFIRMED') {
      for (const id of state.seatIds) this.map.setStatus(id, 'BOOKED');
      text = `Confirmed! Your booking reference is ${state.bookingReference}.`;
      replace(this.outcome, h('p', { class: 'ok' }, text), h('p', {}, h('a', { href: '/tickets' }, 'My tickets')));
      announce(text);
    } else {
      // The seats' own statuses follow from the live changes (released), not from here.
      text = state.status === 'FAILED' ? reason(state.failureReason, state.failureMessage) : reason(state.status);
      if (state.status !== 'CANCELLED') {
        // The seats are free again: keep them chosen, so trying again is one press.
        this.selection = state.seatIds.filter((id) => this.map.seat(id));
        this.renderSelection();
      }
      replace(this.outcome, h('p', { class: 'bad' }, text),
        places.length ? h('p', {}, `Seats: ${places.join(', ')}.`) : null);
      if (state.status === 'CANCELLED') announce(text);
      else showError(text);
    }
    this.outcome.hidden = false;
    this.steps = [];
    this.focusLater = '.outcome p';
  }

  renderHold() {
    this.drawHold();
    // Rebuilt or disabled controls drop the keyboard's focus: put it back where the buyer
    // needs it next (the hold, the outcome), else on the same control if it still exists.
    const target = this.focusLater && !this.busy && this.main.querySelector(this.focusLater);
    if (target && !target.closest('[hidden]')) {
      this.focusLater = null;
      target.tabIndex = -1;
      target.focus();
    } else if (this.lastFocus && (!document.activeElement || document.activeElement === document.body)) {
      const again = [...this.holdPanel.querySelectorAll('button, select')]
        .find((el) => controlKey(el) === this.lastFocus);
      if (again && !again.disabled) again.focus();
    }
  }

  drawHold() {
    const state = this.checkout.state;
    const active = document.activeElement;
    if (active && this.holdPanel.contains(active)) this.lastFocus = controlKey(active);
    if (!state || TERMINAL.has(state.status)) {
      this.holdPanel.hidden = true;
      return;
    }
    this.holdPanel.hidden = false;
    const seats = state.seatIds.map((id) => this.map.seat(id)).filter(Boolean);
    this.timerEl = h('p', { class: 'countdown', role: 'timer', 'aria-live': 'off' });
    const card = h('select', { name: 'card' },
      TEST_CARDS.map(([value, label]) => h('option', { value }, label)));
    if (this.card) card.value = this.card;
    card.addEventListener('change', () => {
      this.card = card.value;
    });
    const paying = state.status !== 'HELD';
    const extendsLeft = 2 - state.extensionsUsed;
    replace(this.holdPanel,
      h('h2', { id: 'hold-h' }, 'Your hold'),
      h('ul', { class: 'selection' }, seats.map((s) => h('li', {},
        `${seatPlace(s)} · ${SEAT_TYPES[s.type] || s.type} · ${money(s.price, this.event.currency)}`))),
      state.amount ? h('p', { class: 'total' }, `Total ${money(state.amount, state.currency)}`) : null,
      this.timerEl,
      h('div', { class: 'actions' },
        h('button', { type: 'button', disabled: this.busy || paying, onclick: () => this.extend() }, 'Extend hold'),
        h('span', { class: 'hint' }, `${Math.max(extendsLeft, 0)} extension(s) left`)),
      field('Test card', card, 'Sandbox cards: nothing is really charged.'),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'primary', disabled: this.busy || paying, onclick: () => this.pay(card.value) }, 'Pay'),
        h('button', { type: 'button', disabled: this.busy || paying, onclick: () => this.cancel() }, 'Cancel')),
      this.progress());
    this.tick();
    if (!this.timer) this.timer = setInterval(() => this.tick(), 250);
  }

  progress() {
    if (!this.steps || this.steps.length <= 1) return null;
    return h('ol', { class: 'progress', 'aria-label': 'Progress' },
      this.steps.map((s, i) => h('li', { class: i === this.steps.length - 1 ? 'now' : 'done' }, PROGRESS_WORDS[s] || s)));
  }

  tick() {
    const state = this.checkout.state;
    if (!state || !state.expiresAt || !this.timerEl) return;
    const left = new Date(state.expiresAt).getTime() - Date.now();
    if (state.status !== 'HELD') {
      this.timerEl.textContent = 'Payment in progress…';
      return;
    }
    if (left > 0) {
      this.timerEl.textContent = `Time left to pay: ${countdown(left)}`;
      this.timerEl.classList.toggle('urgent', left < 60000);
      if (left < 60000 && !this.warned) {
        this.warned = true;
        announce('Less than a minute left on your hold. You can extend it.');
      }
      return;
    }
    // Zero on the page's clock: say so now; the checkout's EXPIRED follows from the API.
    clearInterval(this.timer);
    this.timer = null;
    this.timerEl.textContent = 'Time left to pay: 0:00';
    for (const button of this.holdPanel.querySelectorAll('button')) button.disabled = true;
    const text = reason('EXPIRED');
    const said = h('p', { class: 'bad', tabindex: -1 }, text);
    replace(this.outcome, said);
    this.outcome.hidden = false;
    if (this.holdPanel.contains(document.activeElement) || document.activeElement === document.body) said.focus();
    showError(text);
  }

  async extend() {
    clearError();
    this.setBusy(true);
    try {
      const result = await this.checkout.extend();
      if (result.success) {
        this.warned = false;
        announce(`Hold extended: ${countdown(new Date(this.checkout.state.expiresAt) - Date.now())} left.`);
      } else {
        showError(reason(result.failureReason, result.message));
      }
    } catch (error) {
      showError(reason(error.code, error.message));
    } finally {
      this.setBusy(false);
    }
  }

  async pay(token) {
    clearError();
    this.setBusy(true);
    try {
      announce('Paying…');
      const result = await this.checkout.pay(token);
      if (!result.success && !result.checkout) showError(reason(result.failureReason, result.message));
    } catch (error) {
      showError(reason(error.code, error.message));
    } finally {
      this.setBusy(false);
    }
  }

  async cancel() {
    clearError();
    this.setBusy(true);
    try {
      const result = await this.checkout.cancel();
      if (!result.success) showError(reason(result.failureReason, result.message));
    } catch (error) {
      showError(reason(error.code, error.message));
    } finally {
      this.setBusy(false);
    }
  }
}

function swatch(cls) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  el.setAttribute('viewBox', '0 0 1 1');
  el.setAttribute('aria-hidden', 'true');
  el.setAttribute('class', 'swatch');
  const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
  rect.setAttribute('width', '1');
  rect.setAttribute('height', '1');
  rect.setAttribute('rx', '0.2');
  rect.setAttribute('class', cls);
  el.append(rect);
  return el;
}

function legend() {
  const items = [
    ['seat st-AVAILABLE ty-VIP', 'VIP'],
    ['seat st-AVAILABLE ty-PREMIUM', 'Premium'],
    ['seat st-AVAILABLE ty-REGULAR', 'Regular'],
    ['seat st-AVAILABLE ty-ACCESSIBLE', 'Accessible'],
    ['seat st-AVAILABLE ty-REGULAR selected', 'Your choice'],
    ['seat st-mine', 'Held for you'],
    ['seat st-HELD', 'Held'],
    ['seat st-BOOKED', 'Booked'],
    ['seat st-BLOCKED', 'Blocked'],
  ];
  return h('ul', { class: 'legend', 'aria-label': 'Legend' }, items.map(([cls, text]) => h('li', {}, swatch(cls), text)));
}

export async function mount(main, [eventId]) {
  const page = new EventPage(main, eventId);
  await page.mount();
  return () => page.unmount();
}
