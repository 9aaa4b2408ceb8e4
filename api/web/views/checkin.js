// Check-in at the door: the staff member picks the event their door is for and pastes or
// types a ticket's code (what its QR code encodes); the answer is shown large, in words.

import { gql } from '../gql.js';
import { when } from '../format.js';
import { session } from '../session.js';
import { h, replace, announce, showError, clearError, field } from '../ui.js';

const EVENTS = `query DoorEvents { events(limit: 100) { id name eventDate status } }`;
const CHECK_IN = `mutation CheckIn($e: ID!, $t: String!) { checkIn(eventId: $e, ticket: $t) {
  status message section row number bookingReference checkedInAt } }`;

const HEADLINES = { ADMITTED: 'Admitted', ALREADY_CHECKED_IN: 'Already checked in', INVALID: 'Not valid' };

export async function mount(main) {
  main.append(h('h1', {}, 'Check-in'));
  if (!session.user) {
    main.append(h('p', {}, h('a', { href: '/signin?next=/checkin' }, 'Sign in'), ' as the organizer or door staff.'));
    return;
  }
  const eventSelect = h('select', { name: 'event', required: true });
  const token = h('textarea', { name: 'ticket', rows: 3, required: true, autocomplete: 'off', spellcheck: false });
  const result = h('div', { class: 'checkin-result narrow', 'aria-live': 'polite' });
  const form = h('form', { class: 'card narrow' },
    field('Event', eventSelect),
    field('Ticket code', token, 'Scan the QR code with a reader that types, or paste the code.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Check in')));
  main.append(form, result);
  try {
    const events = (await gql(EVENTS)).events.filter((e) => !['DRAFT', 'CANCELLED'].includes(e.status));
    eventSelect.append(...events.map((e) => h('option', { value: e.id }, `${e.name} (${when(e.eventDate)})`)));
  } catch (error) {
    showError(`The events could not be loaded: ${error.message}`);
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    const code = token.value.trim();
    if (!code) {
      showError('Ticket code is required.');
      token.focus();
      return;
    }
    try {
      const r = (await gql(CHECK_IN, { e: eventSelect.value, t: code })).checkIn;
      const seat = r.section ? `${r.section} row ${r.row} seat ${r.number}` : '';
      const first = r.checkedInAt ? `First checked in ${when(r.checkedInAt)}.` : '';
      replace(result, h('div', { class: `verdict v-${r.status}` },
        h('p', { class: 'headline' }, HEADLINES[r.status] || r.status),
        seat ? h('p', {}, seat) : null,
        r.bookingReference ? h('p', {}, `Booking ${r.bookingReference}`) : null,
        r.status === 'ALREADY_CHECKED_IN' ? h('p', {}, first) : null,
        // The API's words, unless they only repeat the headline.
        r.message.toLowerCase() === (HEADLINES[r.status] || '').toLowerCase() ? null : h('p', {}, r.message)));
      announce(`${HEADLINES[r.status] || r.status}. ${seat}`);
      token.value = '';
      token.focus();
    } catch (error) {
      showError(`Check-in failed: ${error.message}`);
    }
  });
}
