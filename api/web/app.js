// The page's entry: the navigation (which follows who is signed in) and the pages.

import { route, render, navigate } from './router.js';
import { session } from './session.js';
import { h, replace, announce, clearError } from './ui.js';

route(/^\/$/, () => import('./views/events.js'));
route(/^\/events\/([^/]+)$/, () => import('./views/event.js'));
route(/^\/signin$/, () => import('./views/auth.js').then((m) => m.signInView));
route(/^\/register$/, () => import('./views/auth.js').then((m) => m.registerView));
route(/^\/tickets$/, () => import('./views/tickets.js'));
route(/^\/checkin$/, () => import('./views/checkin.js'));

function current(path) {
  return location.pathname === path ? 'page' : undefined;
}

function drawNav() {
  const items = [h('li', {}, h('a', { href: '/', 'aria-current': current('/') }, 'Events'))];
  if (session.user) {
    items.push(
      h('li', {}, h('a', { href: '/tickets', 'aria-current': current('/tickets') }, 'My tickets')),
    );
    // Door staff can be any user an organizer named, so every signed-in user sees it.
    items.push(
      h('li', {}, h('a', { href: '/checkin', 'aria-current': current('/checkin') }, 'Check-in')),
    );
    items.push(
      h('li', { class: 'who' }, h('span', {}, session.user.email)),
      h('li', {}, h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out')),
    );
  } else {
    items.push(
      h('li', {}, h('a', { href: '/signin', 'aria-current': current('/signin') }, 'Sign in')),
      h('li', {}, h('a', { href: '/register', 'aria-current': current('/register') }, 'Register')),
    );
  }
  replace(document.getElementById('nav'), items);
}

function signOut() {
  session.signOut();
  announce('You are signed out.');
  navigate('/');
}

session.addEventListener('change', drawNav);
document.addEventListener('routechange', () => {
  clearError();
  drawNav();
});
drawNav();
render();
