// Sign in and register. Each sends the buyer back where they came from (?next=/events/...),
// so choosing seats, signing in and holding them is one path.

import { gql } from '../gql.js';
import { navigate } from '../router.js';
import { session } from '../session.js';
import { h, field, announce, showError, clearError } from '../ui.js';

const USER = 'user { id email firstName lastName roles }';
const LOGIN = `mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token ${USER} } }`;
const REGISTER = `mutation Register($input: RegisterInput!) {
  register(input: $input) { token ${USER} } }`;

function next() {
  const target = new URLSearchParams(location.search).get('next') || '/';
  // Only a path on this site: never an open redirect.
  return target.startsWith('/') && !target.startsWith('//') ? target : '/';
}

function input(type, name, autocomplete) {
  return h('input', { type, name, autocomplete, required: true });
}

function form(title, fields, submitLabel, submit, other) {
  const button = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  const el = h(
    'form',
    { class: 'card auth', novalidate: true },
    h('h1', {}, title),
    fields,
    h('div', { class: 'actions' }, button),
    h('p', {}, other),
  );
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    const values = Object.fromEntries(new FormData(el));
    const empty = fields.map((f) => f.querySelector('input')).find((i) => !i.value.trim());
    if (empty) {
      showError(`${el.querySelector(`label[for="${empty.id}"]`).textContent} is required.`);
      empty.focus();
      return;
    }
    button.disabled = true;
    try {
      const payload = await submit(values);
      session.signIn(payload.token, payload.user);
      announce(`Signed in as ${payload.user.email}.`);
      navigate(next(), { replace: true });
    } catch (error) {
      showError(error.message);
      button.disabled = false;
    }
  });
  return el;
}

export const signInView = {
  mount(main) {
    const link = h('a', { href: `/register${location.search}` }, 'Register');
    main.append(
      form(
        'Sign in',
        [
          field('Email', input('email', 'email', 'username')),
          field('Password', input('password', 'password', 'current-password')),
        ],
        'Sign in',
        async (v) => (await gql(LOGIN, { email: v.email, password: v.password })).login,
        ['No account yet? ', link],
      ),
    );
  },
};

export const registerView = {
  mount(main) {
    const link = h('a', { href: `/signin${location.search}` }, 'Sign in');
    main.append(
      form(
        'Register',
        [
          field('First name', input('text', 'firstName', 'given-name')),
          field('Last name', input('text', 'lastName', 'family-name')),
          field('Email', input('email', 'email', 'username')),
          field('Password', input('password', 'password', 'new-password'), 'At least 8 characters.'),
        ],
        'Register',
        async (v) => (await gql(REGISTER, { input: v })).register,
        ['Already registered? ', link],
      ),
    );
  },
};
