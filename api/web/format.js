// Words and numbers as the buyer reads them: prices, dates, seat names and outcomes.

// Decimal strings ("49.50") stay exact: totals are added in cents, never as floats.
export function cents(decimal) {
  const [whole, fraction = ''] = String(decimal).split('.');
  const sign = whole.startsWith('-') ? -1 : 1;
  return sign * (Math.abs(parseInt(whole, 10)) * 100 + parseInt((fraction + '00').slice(0, 2), 10));
}

// One formatter per currency: a 5,000-seat map names every seat's price, and building an
// Intl.NumberFormat costs far more than using one.
const formatters = new Map();

export function money(amount, currency, inCents = false) {
  const value = inCents ? amount / 100 : cents(amount) / 100;
  if (!formatters.has(currency)) {
    try {
      formatters.set(currency, new Intl.NumberFormat('en-US', { style: 'currency', currency }));
    } catch {
      formatters.set(currency, { format: (v) => `${v.toFixed(2)} ${currency}` });
    }
  }
  return formatters.get(currency).format(value);
}

export function when(iso) {
  return new Intl.DateTimeFormat('en-US', {
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
  }).format(new Date(iso));
}

export const SEAT_TYPES = {
  VIP: 'VIP',
  PREMIUM: 'Premium',
  REGULAR: 'Regular',
  ACCESSIBLE: 'Accessible',
};

export const STATUS_WORDS = {
  AVAILABLE: 'available',
  HELD: 'held',
  BOOKED: 'booked',
  BLOCKED: 'blocked',
};

export function seatPlace(seat) {
  return `${seat.section} row ${seat.row} seat ${seat.number}`;
}

// The seat button's accessible name; the status word is always last.
export function seatLabel(seat, currency) {
  const type = SEAT_TYPES[seat.type] || seat.type;
  return `${seatPlace(seat)}, ${type}, ${money(seat.price, currency)}, ${STATUS_WORDS[seat.status]}`;
}

export function countdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(total / 60);
  return `${minutes}:${String(total % 60).padStart(2, '0')}`;
}

// A wait as a buyer says it: rounded up, never to the second (the pace moves; a precise
// number would promise more than the room knows).
export function etaWords(seconds) {
  if (seconds === null || seconds === undefined) return 'a time not known yet';
  if (seconds < 60) return 'less than a minute';
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return minutes === 1 ? 'about a minute' : `about ${minutes} minutes`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `about ${hours} hour${hours > 1 ? 's' : ''}${rest ? ` ${rest} minute${rest > 1 ? 's' : ''}` : ''}`;
}

export function people(count) {
  return count === 1 ? '1 person' : `${count} people`;
}

const REASONS = {
  PAYMENT_DECLINED: 'Your card was declined. Nothing was charged and your seats were released.',
  CAPTURE_FAILED:
    'Your card was approved but the payment could not be completed, so the booking was ' +
    'cancelled and nothing was charged. Your seats were released.',
  PAYMENT_TIMEOUT: 'The card processor did not answer in time. Nothing was charged.',
  SEATS_UNAVAILABLE: 'Someone else got that seat first.',
  HOLD_EXPIRED: 'Your hold expired. The seats are back on sale.',
  LOCK_EXPIRED: 'Your hold expired. The seats are back on sale.',
  EXPIRED: 'Your hold expired. The seats are back on sale.',
  CANCELLED: 'The checkout was cancelled and your seats were released.',
  EXTENSION_LIMIT: 'This hold cannot be extended any more.',
  TICKET_LIMIT_REACHED: 'You have reached the limit of tickets one buyer may have for this event.',
  TOO_MANY_SEATS: 'That is more seats than one checkout may hold.',
  EVENT_NOT_ON_SALE: 'This event is not on sale right now.',
  EVENT_ALREADY_TOOK_PLACE: 'The event has already taken place.',
  CHECKOUT_CLOSED: 'This checkout is already closed.',
  NOT_ADMITTED:
    'This sale has a waiting room: join the queue, and hold seats when it is your turn. ' +
    'Nothing was held.',
  TRY_AGAIN: 'We are very busy right now. Please try again in a moment.',
  UNAUTHENTICATED: 'Please sign in first.',
  RATE_LIMITED: 'Too many requests. Please wait a moment and try again.',
};

export function reason(code, fallback) {
  return REASONS[code] || fallback || 'Something went wrong. Please try again.';
}

export const PROGRESS_WORDS = {
  OPEN: 'Holding your seats',
  HELD: 'Seats held',
  AUTHORIZING: 'Checking your card',
  CONFIRMING: 'Confirming your booking',
  CAPTURING: 'Taking the payment',
  COMPENSATING: 'Undoing the payment',
  CONFIRMED: 'Confirmed',
  FAILED: 'Not completed',
  CANCELLED: 'Cancelled',
  EXPIRED: 'Hold expired',
};
