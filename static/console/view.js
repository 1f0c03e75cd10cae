// The page's main view (#view) and moving between routes: going to an address, rendering the current one again,
// starting a render that a newer one overrides, and showing why a render failed.

import { $, el, append } from './dom.js';
import { flash } from './flash.js';

// Renders the route the address says (set once at start: the router's `route`).
let render = () => {};
// Which render is current: every page started counts one more.
let latest = 0;

export function setRouter(router) {
  render = router;
}

// Goes to `hash`, rendering even when the address already says it.
export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

// Starts rendering a page: the view says what is loading; `done` puts the page in, unless another route has started
// since (a slow answer never overwrites a newer page).
export function startView(routeName) {
  const generation = ++latest;
  const view = $('view');
  view.dataset.route = routeName;
  view.dataset.loaded = 'false';
  view.replaceChildren(el('p', { class: 'hint loading', text: '加载中… loading' }));
  return {
    current: () => generation === latest,
    done(...nodes) {
      if (generation !== latest) return;
      view.replaceChildren();
      append(view, nodes);
      view.dataset.loaded = 'true';
    },
  };
}

export function showError(error) {
  if (error && error.handled) return;
  console.error(error);
  const message = (error && error.message) || String(error);
  flash(message, 'error');
  const view = $('view');
  view.replaceChildren(el('p', { class: 'error', 'data-code': error && error.code, text: message }));
  view.dataset.loaded = 'error';
}

// Renders the current route again (after an action), keeping the flash that reports the action.
export function reload() {
  render();
}
