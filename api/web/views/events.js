// The events: on sale first (soonest first), then the rest by date; each a link to its page.

import { gql } from '../gql.js';
import { money, when } from '../format.js';
import { h, replace, showError } from '../ui.js';

const FIELDS = 'id name eventDate status priceFrom currency availableSeats venue { name }';
const EVENTS = `query Events {
  onSale: events(limit: 100, status: ON_SALE) { ${FIELDS} }
  all: events(limit: 100) { ${FIELDS} } }`;

const STATUS = {
  ON_SALE: 'On sale',
  SCHEDULED: 'Coming soon',
  PAUSED: 'Sales paused',
  SOLD_OUT: 'Sold out',
  CANCELLED: 'Cancelled',
  COMPLETED: 'Took place',
};

function ordered(data) {
  const seen = new Set();
  const list = [];
  for (const event of [...data.onSale, ...data.all]) {
    // A draft is not published yet: buyers do not see it.
    if (seen.has(event.id) || event.status === 'DRAFT') continue;
    seen.add(event.id);
    list.push(event);
  }
  return list;
}

function card(event) {
  const price = h('span', { class: 'price' },
    event.status === 'ON_SALE' ? `From ${money(event.priceFrom, event.currency)}` : '');
  const item = h(
    'li',
    { class: `event-card status-${event.status}` },
    h('h2', {}, h('a', { href: `/events/${event.id}` }, event.name)),
    h(
      'dl',
      {},
      h('dt', {}, 'Date'),
      h('dd', {}, h('time', { datetime: event.eventDate }, when(event.eventDate))),
      h('dt', {}, 'Venue'),
      h('dd', {}, event.venue.name),
      h('dt', {}, 'Price'),
      h('dd', {}, price),
      h('dt', {}, 'Seats left'),
      h('dd', {}, event.status === 'ON_SALE' ? String(event.availableSeats) : '—'),
    ),
    h('p', { class: 'badge' }, STATUS[event.status] || event.status),
  );
  return item;
}

export async function mount(main) {
  const list = h('ul', { class: 'events', 'aria-busy': 'true' });
  main.append(h('h1', {}, 'Events'), list);
  try {
    const events = ordered(await gql(EVENTS));
    replace(list, events.length ? events.map(card) : h('li', {}, 'No events yet.'));
  } catch (error) {
    showError(`The events could not be loaded: ${error.message}`);
  } finally {
    list.removeAttribute('aria-busy');
  }
}
