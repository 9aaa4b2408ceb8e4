// The waiting room on an event page: where the buyer is, in words, in a polite live region
// (a screen reader hears each change when it is free to, whole, without losing its place),
// the Join button, and the turn's countdown. The countdown ticks outside the live region: a
// region changing every second would talk over everything else on the page.

import { countdown, etaWords, people, when } from '../format.js';
import { h, replace } from '../ui.js';

// What the buyer is told, from the room's status and what this page knows besides: whether
// the buyer is signed in, holds seats, or just watched a turn run out without a hold.
export function queueWords(event, view) {
  const s = view.status;
  const opening = event.onSaleAt && event.status === 'SCHEDULED' ? when(event.onSaleAt) : null;
  if (!view.signedIn) {
    return {
      title: 'This sale has a waiting room',
      lines: ['Buyers take turns to choose seats, in queue order. Sign in to join the queue.'],
      signIn: true,
    };
  }
  if (!s) return { title: 'Waiting room', lines: ['Finding your place…'] };
  if (view.holding && ['ADMITTED', 'TURN_EXPIRED'].includes(s.state)) {
    // Holding seats is what a turn is for: past it, only paying is left.
    return s.state === 'ADMITTED'
      // The turn's clock only limits adding seats: it is drawn small, so the hold's own
      // "Time left to pay" is the one clock the buyer reads as the deadline.
      ? { title: "It's your turn", lines: ['Your seats are held: pay before the hold runs out. You can add seats until your turn ends.'], timer: 'Time left to add seats', tone: 'turn' }
      : { title: 'You are through the queue', lines: ['Your seats are held: pay before the hold runs out.'], tone: 'turn' };
  }
  switch (s.state) {
    case 'NOT_QUEUED':
      return {
        title: 'This sale has a waiting room',
        lines: opening
          ? [`The sale opens ${opening}. Positions are drawn at random at the opening for everyone who joined before it, so joining early gains nothing and joining later before the opening loses nothing.`]
          : ['Buyers take turns to choose seats, in the order they joined. Join the queue to get your place.'],
        join: true,
      };
    case 'PRE_QUEUE':
      return {
        title: 'You are in the queue',
        lines: [
          opening
            ? `Positions are drawn at random when the sale opens, ${opening}. You will see yours then.`
            : 'Positions are drawn at random when the sale opens. You will see yours then.',
          'Keep this page open: it updates by itself.',
        ],
      };
    case 'WAITING': {
      // The position counts those whose turn has come too; "ahead" only those still waiting.
      const lines = [
        s.ahead
          ? `${people(s.ahead)} ahead of you ${s.ahead === 1 ? 'is' : 'are'} still waiting.`
          : 'Nobody ahead of you is still waiting: you are next.',
      ];
      // With every seat held, the turn waits on seats coming back, which no pace predicts.
      if (s.seatsMayComeBack) {
        lines.push('Every seat is held right now, but not every seat is sold: held seats may come back. Keep your place: your turn comes when they do.');
      } else {
        // No ETA: the room has no pace or no seat in sight for the turn yet.
        lines.push(s.etaSeconds === null || s.etaSeconds === undefined
          ? 'When your turn comes is not known yet.'
          : `Your turn in ${etaWords(s.etaSeconds)}.`);
      }
      lines.push('Keep this page open: it updates by itself.');
      return { title: `You are number ${s.position} in the queue`, lines, tone: s.seatsMayComeBack ? 'comeback' : null };
    }
    case 'ADMITTED':
      return {
        title: "It's your turn",
        lines: ['Choose your seats and press Hold seats before your turn ends.'],
        timer: 'Time left in your turn',
        tone: 'turn',
      };
    case 'TURN_EXPIRED':
      return {
        title: 'Your turn has ended',
        lines: [view.lost
          ? 'Your turn ran out before you held any seats, so it went to the next buyers in the queue. Each account gets one turn.'
          : 'Each account gets one turn in the queue, and yours is over.'],
        tone: 'bad',
      };
    case 'SOLD_OUT':
      return { title: 'Sold out', lines: ['Every seat is booked.'], tone: 'bad' };
    default:
      return { title: 'Not on sale', lines: ['This event is not selling tickets.'], tone: 'bad' };
  }
}

export class QueuePanel {
  constructor({ onJoin }) {
    this.onJoin = onJoin;
    this.title = h('p', { class: 'queue-title', id: 'queue-title', tabindex: -1 });
    this.lines = h('div');
    // role=status is a polite live region; atomic, so each change is read as a whole.
    this.words = h('div', { class: 'queue-words', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' },
      this.title, this.lines);
    this.timerEl = h('p', { class: 'countdown', role: 'timer', 'aria-live': 'off', hidden: true });
    this.actions = h('div', { class: 'actions' });
    this.el = h('section', { class: 'card queue', 'aria-labelledby': 'queue-h' },
      h('h2', { id: 'queue-h' }, 'Waiting room'), this.words, this.timerEl, this.actions);
    this.said = '';
    this.joinButton = h('button', { type: 'button', class: 'primary', onclick: () => {
      if (!this.busy) this.onJoin();
    } }, 'Join the queue');
  }

  render(words, busy) {
    this.el.className = `card queue${words.tone ? ` tone-${words.tone}` : ''}`;
    const text = [words.title, ...words.lines].join('\n');
    // Only a change is written: the same words again would be read out again.
    if (text !== this.said) {
      this.said = text;
      this.title.textContent = words.title;
      replace(this.lines, words.lines.map((line) => h('p', {}, line)));
    }
    this.timerEl.hidden = !words.timer;
    this.timerLabel = words.timer;
    this.timerEl.classList.toggle('minor', words.timer === 'Time left to add seats');
    const hadFocus = this.actions.contains(document.activeElement);
    if (words.join) {
      // One button, kept while it applies: replacing it would drop the keyboard's focus.
      if (!this.actions.contains(this.joinButton)) replace(this.actions, this.joinButton);
      // aria-disabled, not disabled: a disabled button would lose the keyboard's focus.
      this.joinButton.setAttribute('aria-disabled', String(Boolean(busy)));
      this.busy = Boolean(busy);
    } else if (words.signIn) {
      const next = encodeURIComponent(location.pathname);
      replace(this.actions, h('a', { href: `/signin?next=${next}` }, 'Sign in'), h('span', {}, 'or'),
        h('a', { href: `/register?next=${next}` }, 'Register'));
    } else {
      replace(this.actions);
      // The Join button went once joined: the focus moves to what replaced it.
      if (hadFocus) this.title.focus();
    }
  }

  tick(leftMs) {
    this.timerEl.textContent = `${this.timerLabel || 'Time left in your turn'}: ${countdown(leftMs)}`;
    this.timerEl.classList.toggle('urgent', leftMs < 20000);
  }
}
