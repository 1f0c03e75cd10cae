// The login page, logging in and logging out. The server answers a login with an HttpOnly cookie; this page never
// sees or keeps the token.

import { api, CallError } from './api.js';
import { $ } from './dom.js';
import { loadMe, renderChrome, session } from './session.js';
import { go } from './view.js';

export function showLogin() {
  $('view').hidden = true;
  $('view').replaceChildren();
  $('view').dataset.route = '';
  $('login-view').hidden = false;
  $('login-name').focus();
}

export async function logIn(event) {
  event.preventDefault();
  const error = $('login-error');
  error.hidden = true;
  const button = $('login-submit');
  if (button.disabled) return;
  button.disabled = true;
  try {
    // The answer's token is ignored on purpose: the HttpOnly cookie set with it is what authenticates.
    await api('POST', '/login', { name: $('login-name').value.trim(), password: $('login-password').value },
      { authenticating: true });
    $('login-password').value = '';
    await loadMe();
    if (!session.me) throw new CallError(401, 'NO_SESSION', '登录未生效：浏览器没有保存会话 cookie');
    const after = session.after && !session.after.startsWith('#/login') ? session.after : '#/';
    session.after = null;
    go(after);
  } catch (failure) {
    error.textContent = failure.message;
    error.dataset.code = failure.code || '';
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

export async function logOut() {
  try { await api('POST', '/logout', undefined, { authenticating: true }); } catch (_) { /* gone either way */ }
  session.me = null;
  session.after = null;
  renderChrome();
  go('#/login');
}
