// The customer-service staff console: one page, hash-routed, over the staff API (/staff/v1). Plain ES2020 modules,
// no dependencies, served under a CSP that allows only 'self'. This module starts it; each module beside it has one
// job (api.js the calls, router.js the routes, page-*.js one page each, ...).
//
// Two rules hold in every module:
// - The staff token is never seen here: the server keeps it in an HttpOnly cookie, and every call goes with
//   `credentials: 'same-origin'` (api.js). Nothing is written to web storage or to cookies from here.
// - The DOM is built with createElement and textContent only (dom.js), so that nothing from the database can become
//   markup.

import { whenSessionEnds } from './api.js';
import { setUpDialog } from './dialog.js';
import { $ } from './dom.js';
import { clearFlash, flash } from './flash.js';
import { logIn, logOut } from './page-login.js';
import { submitSearch } from './page-search.js';
import { route } from './router.js';
import { loadMe, sessionEnded } from './session.js';
import { setRouter } from './view.js';

async function start() {
  setRouter(route);
  whenSessionEnds(sessionEnded);
  $('login-form').addEventListener('submit', logIn);
  $('search-form').addEventListener('submit', submitSearch);
  $('logout').addEventListener('click', logOut);
  setUpDialog();
  window.addEventListener('hashchange', () => {
    clearFlash();
    route();
  });
  try {
    await loadMe();
  } catch (error) {
    flash(error.message, 'error');
  }
  route();
  document.body.dataset.ready = 'true';
}

// A module runs once the page is parsed, before DOMContentLoaded; this starts it either way.
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
