// My tickets: each booking with its tickets (a QR code per seat) and, while the event has not
// taken place, cancel and refund.

import { gql } from '../gql.js';
import { money, when } from '../format.js';
import { session } from '../session.js';
import { h, replace, announce, showError, clearError } from '../ui.js';

const BOOKINGS = `query MyBookings { myBookings {
  bookingReference eventId totalPrice currency status createdAt
  tickets { seatId section row number token qrSvg valid } } }`;
const EVENT = 'query E($e: ID!) { event(id: $e) { id name eventDate status venue { name } } }';
const CANCEL = `mutation CancelBooking($r: String!) {
  cancelBooking(reference: $r) { success message failureReason booking { status } } }`;

const STATUS = { CONFIRMED: 'Confirmed', CANCELLED: 'Cancelled', REFUNDED: 'Refunded', PENDING: 'Pending' };

function refundable(booking, event) {
  if (booking.status !== 'CONFIRMED' || !event) return false;
  return event.status === 'CANCELLED' || (event.status !== 'COMPLETED' && new Date(event.eventDate) > new Date());
}

function ticket(t) {
  const place = `${t.section} row ${t.row} seat ${t.number}`;
  // The server's SVG as an image, never parsed into the page; its alt text is its name.
  // Drawn for inline use, the SVG may lack its namespace, which an image document needs.
  const svg = /^<svg[^>]*\sxmlns=/.test(t.qrSvg)
    ? t.qrSvg
    : t.qrSvg.replace('<svg', '<svg xmlns="http://www.w3.org/2000/svg"');
  const src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  return h('li', { class: `ticket${t.valid ? '' : ' void'}` },
    h('img', { src, alt: `QR code: ticket for ${place}`, width: 200, height: 200 }),
    h('div', {},
      h('p', { class: 'place' }, place),
      h('p', { class: t.valid ? 'ok' : 'bad' }, t.valid ? 'Valid: show this code at the door' : 'No longer valid'),
      h('details', {}, h('summary', {}, 'Ticket code'), h('code', { class: 'token' }, t.token))));
}

async function events(bookings) {
  const ids = [...new Set(bookings.map((b) => b.eventId))];
  const found = await Promise.all(ids.map((id) => gql(EVENT, { e: id }).then((d) => d.event).catch(() => null)));
  return new Map(ids.map((id, i) => [id, found[i]]));
}

export async function mount(main) {
  main.append(h('h1', {}, 'My tickets'));
  if (!session.user) {
    main.append(h('p', {}, h('a', { href: '/signin?next=/tickets' }, 'Sign in'), ' to see your tickets.'));
    return;
  }
  const list = h('ul', { class: 'bookings', 'aria-busy': 'true' });
  main.append(list);
  const load = async () => {
    try {
      const bookings = (await gql(BOOKINGS)).myBookings;
      const byId = await events(bookings);
      replace(list, bookings.length ? bookings.map((b) => booking(b, byId.get(b.eventId), load))
        : h('li', {}, 'No bookings yet. ', h('a', { href: '/' }, 'Find an event'), '.'));
    } catch (error) {
      showError(`Your tickets could not be loaded: ${error.message}`);
    } finally {
      list.removeAttribute('aria-busy');
    }
  };
  await load();
}

function booking(b, event, reload) {
  const name = event ? event.name : 'Event';
  const cancel = refundable(b, event)
    ? h('button', {
      type: 'button',
      'aria-label': `Cancel booking ${b.bookingReference} and refund`,
      onclick: async (e) => {
        clearError();
        if (!window.confirm(`Cancel booking ${b.bookingReference} and refund ${money(b.totalPrice, b.currency)}?`)) return;
        e.target.disabled = true;
        try {
          const result = (await gql(CANCEL, { r: b.bookingReference })).cancelBooking;
          if (result.success) announce(`Booking ${b.bookingReference} cancelled and refunded.`);
          else showError(result.message);
        } catch (error) {
          showError(error.message);
        }
        await reload();
      },
    }, 'Cancel and refund')
    : null;
  return h('li', { class: 'card booking' },
    h('h2', {}, name),
    h('p', { class: 'meta' },
      event ? `${when(event.eventDate)} · ${event.venue.name} · ` : '',
      `Booking ${b.bookingReference} · ${STATUS[b.status] || b.status} · ${money(b.totalPrice, b.currency)}`),
    h('ul', { class: 'tickets' }, b.tickets.map(ticket)),
    cancel ? h('div', { class: 'actions' }, cancel) : null);
}
