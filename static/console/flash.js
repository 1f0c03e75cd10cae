// The flash: one line under the header that reports what an action did, or what went wrong.

import { $ } from './dom.js';

export function flash(text, kind = 'ok') {
  const node = $('flash');
  node.textContent = text;
  node.dataset.kind = kind;
  node.className = `flash flash-${kind}`;
  node.hidden = false;
}

export function clearFlash() {
  const node = $('flash');
  node.hidden = true;
  node.textContent = '';
  node.dataset.kind = '';
}
