// GraphQL over HTTP: one POST to /graphql per operation, with the session's bearer token.

import { session } from './session.js';

export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join('; '));
    this.errors = errors;
    this.code = (errors[0] && errors[0].extensions && errors[0].extensions.code) || 'ERROR';
  }
}

function failure(message, code) {
  return new ApiError([{ message, extensions: { code } }]);
}

export async function gql(query, variables = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw failure('The server could not be reached. Check your connection and try again.', 'NETWORK');
  }
  if (response.status === 429) {
    const wait = response.headers.get('Retry-After') || 'a few';
    throw failure(`Too many requests: please wait ${wait} seconds and try again.`, 'RATE_LIMITED');
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw failure(`The server answered with an error (${response.status}).`, 'HTTP');
  }
  if (body.errors && body.errors.length) {
    const error = new ApiError(body.errors);
    // A token the API no longer accepts (expired, or signed with an old secret).
    if (error.code === 'UNAUTHENTICATED' && session.token) session.signOut();
    throw error;
  }
  return body.data;
}
