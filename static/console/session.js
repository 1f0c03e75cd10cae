// Who is logged in, in memory only: the header that shows it, the permissions that decide what the pages offer, and
// the end of a session that the server no longer knows.

import { api } from './api.js';
import { closeConfirm } from './dialog.js';
import { $ } from './dom.js';
import { named } from './format.js';
import { ROLE_NAMES } from './labels.js';
import { go } from './view.js';

// Who is logged in (never their token), where to go after logging in, and a flash for the next route.
export const session = {
  me: null,
  after: null,
  nextFlash: null,
};

export function can(permission) {
  return !!session.me && Array.isArray(session.me.permissions) && session.me.permissions.includes(permission);
}

// Who is logged in, from the server (the cookie says, not this page); null when nobody.
export async function loadMe() {
  try {
    session.me = await api('GET', '/me', undefined, { authenticating: true });
  } catch (error) {
    if (error.status !== 401) throw error;
    session.me = null;
  }
  renderChrome();
}

export function renderChrome() {
  const me = session.me;
  $('search-form').hidden = !me || !can('lookup');
  $('nav').hidden = !me;
  $('nav-audit').hidden = !can('read_audit');
  $('nav-staff').hidden = !can('manage_staff');
  $('me').hidden = !me;
  $('me-name').textContent = me ? me.name : '';
  $('me-role').textContent = me ? named(ROLE_NAMES, me.role) : '';
  $('me-role').dataset.role = me ? me.role : '';
}

// The server no longer knows this session (expired, logged out elsewhere, disabled): back to the login page, and back
// here after logging in again.
export function sessionEnded(message) {
  const wasLoggedIn = !!session.me;
  session.me = null;
  renderChrome();
  closeConfirm();
  if (!location.hash.startsWith('#/login')) session.after = location.hash || '#/';
  session.nextFlash = wasLoggedIn ? { text: `请重新登录 please log in again: ${message}`, kind: 'error' } : null;
  go('#/login');
}
