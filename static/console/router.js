// Hash routing: the address's hash (#/account/3100012345, #/audit?staff=op.li) says which page to show; without a
// session, the login page, and back to the address after logging in.

import { $, el } from './dom.js';
import { flash } from './flash.js';
import { showAccount } from './page-account.js';
import { showAudit } from './page-audit.js';
import { showLogin } from './page-login.js';
import { showOrder } from './page-order.js';
import { showHome, showSearch } from './page-search.js';
import { showStaff } from './page-staff.js';
import { showUser } from './page-user.js';
import { session } from './session.js';
import { showError, startView } from './view.js';

// The hash's path, as decoded segments, and its query.
function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const mark = raw.indexOf('?');
  const path = mark < 0 ? raw : raw.slice(0, mark);
  const params = new URLSearchParams(mark < 0 ? '' : raw.slice(mark + 1));
  const segments = path.split('/').filter(Boolean).map((part) => {
    try { return decodeURIComponent(part); } catch (_) { return part; }
  });
  return { segments, params };
}

// Shows the page the address says (the login page without a session).
export function route() {
  const { segments, params } = parseHash();
  const page = segments[0] || '';
  if (session.nextFlash) {
    flash(session.nextFlash.text, session.nextFlash.kind);
    session.nextFlash = null;
  }
  if (!session.me) {
    if (page !== 'login') session.after = location.hash;
    showLogin();
    return;
  }
  $('login-view').hidden = true;
  $('view').hidden = false;
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('current', link.dataset.nav === (page || 'home'));
  }
  const pages = {
    '': () => showHome(),
    login: () => { location.replace('#/'); },
    search: () => showSearch(params.get('q') || ''),
    account: () => showAccount(segments[1] || ''),
    user: () => showUser(segments[1] || ''),
    order: () => showOrder(segments[1] || ''),
    audit: () => showAudit(params),
    staff: () => showStaff(),
  };
  const show = pages[page];
  if (!show) {
    const view = startView('missing');
    view.done(el('h1', { text: '页面不存在 not found' }), el('p', {}, el('a', { href: '#/', text: '回到查询' })));
    return;
  }
  Promise.resolve(show()).catch((error) => showError(error));
}
