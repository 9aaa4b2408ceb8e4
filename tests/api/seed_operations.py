"""The seed README's four GraphQL operations, copied verbatim (../shared/seed/README.md)."""

GET_EVENTS = """
# Get available events
query GetEvents($limit: Int, $status: EventStatus) {
  events(limit: $limit, status: $status) {
    id
    name
    eventDate
    venue {
      name
      address
    }
    availableSeats
    canPurchaseTickets
  }
}
"""

GET_AVAILABLE_SEATS = """
# Get available seats for an event
query GetAvailableSeats($eventId: ID!) {
  availableSeats(eventId: $eventId) {
    id
    section
    row
    number
    type
    priceModifier
  }
}
"""

LOCK_SEAT = """
# Lock a seat (critical for preventing double-booking)
mutation LockSeat($seatId: ID!, $eventId: ID!, $userId: ID!) {
  lockSeat(seatId: $seatId, eventId: $eventId, userId: $userId) {
    success
    lockId
    expiresAt
    message
  }
}
"""

CREATE_BOOKING = """
# Create booking (converts locks to permanent reservation)
mutation CreateBooking($input: CreateBookingInput!, $userId: ID!) {
  createBooking(input: $input, userId: $userId) {
    success
    booking {
      id
      bookingReference
      totalPrice
      status
    }
    message
    failureReason
  }
}
"""
