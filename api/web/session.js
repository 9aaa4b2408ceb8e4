// Who is signed in: the API's JWT and the user, kept in localStorage so a reload or a second
// tab stays signed in. A token past its expiry counts as signed out.

const KEY = 'tb.session';

function expired(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return typeof payload.exp === 'number' && payload.exp * 1000 <= Date.now();
  } catch {
    return true;
  }
}

class Session extends EventTarget {
  constructor() {
    super();
    this.state = null;
    try {
      const saved = JSON.parse(localStorage.getItem(KEY) || 'null');
      if (saved && saved.token && !expired(saved.token)) this.state = saved;
    } catch {
      this.state = null;
    }
  }

  get token() {
    return this.state ? this.state.token : null;
  }

  get user() {
    return this.state ? this.state.user : null;
  }

  get staff() {
    const roles = this.user ? this.user.roles : [];
    return roles.includes('ORGANIZER') || roles.includes('ADMIN');
  }

  signIn(token, user) {
    this.state = { token, user };
    localStorage.setItem(KEY, JSON.stringify(this.state));
    this.dispatchEvent(new Event('change'));
  }

  signOut() {
    this.state = null;
    localStorage.removeItem(KEY);
    this.dispatchEvent(new Event('change'));
  }
}

export const session = new Session();
