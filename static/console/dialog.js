// One confirmation for every action and every reveal (the <dialog> in the page): what it will do, and a reason, which
// the server records in the audit log.

import { $ } from './dom.js';
import { chars } from './format.js';

const REASON_MIN = 4;
const REASON_MAX = 500;

// The action waiting for confirmation.
let confirmRun = null;

// Asks for a reason and runs `run(reason)` on confirmation; the dialog stays open with the server's message if the
// action fails, and closes when it succeeds.
export function confirmAction({ title, what, ok = '确认 Confirm', danger = false, run }) {
  const dialog = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-what').textContent = what;
  $('confirm-ok').textContent = ok;
  $('confirm-ok').classList.toggle('danger', !!danger);
  $('confirm-ok').disabled = false;
  $('confirm-reason').value = '';
  $('confirm-error').hidden = true;
  $('confirm-error').textContent = '';
  countReason();
  confirmRun = run;
  if (typeof dialog.showModal === 'function') {
    if (!dialog.open) dialog.showModal();
  } else {
    dialog.setAttribute('open', '');
  }
  $('confirm-reason').focus();
}

export function closeConfirm() {
  const dialog = $('confirm-dialog');
  confirmRun = null;
  if (dialog.open) {
    if (typeof dialog.close === 'function') dialog.close();
    else dialog.removeAttribute('open');
  }
}

function countReason() {
  const n = chars($('confirm-reason').value.trim());
  $('confirm-count').textContent = `${n} / ${REASON_MAX}`;
  $('confirm-count').classList.toggle('short', n < REASON_MIN || n > REASON_MAX);
}

async function confirmSubmit(event) {
  event.preventDefault();
  const ok = $('confirm-ok');
  const error = $('confirm-error');
  const run = confirmRun;
  if (!run || ok.disabled) return;
  const reason = $('confirm-reason').value.trim();
  const n = chars(reason);
  if (n < REASON_MIN || n > REASON_MAX) {
    error.textContent = `请填写原因（${REASON_MIN}–${REASON_MAX} 个字）a reason of ${REASON_MIN} to ${REASON_MAX} characters`;
    error.hidden = false;
    $('confirm-reason').focus();
    return;
  }
  ok.disabled = true;
  error.hidden = true;
  try {
    await run(reason);
    if (confirmRun === run) closeConfirm();
  } catch (failure) {
    if (failure && failure.handled) return;
    console.error(failure);
    error.textContent = (failure && failure.message) || String(failure);
    error.dataset.code = (failure && failure.code) || '';
    error.hidden = false;
  } finally {
    ok.disabled = false;
  }
}

// Wires the dialog's form, buttons and reason box; once, at start.
export function setUpDialog() {
  $('confirm-form').addEventListener('submit', confirmSubmit);
  $('confirm-cancel').addEventListener('click', closeConfirm);
  $('confirm-reason').addEventListener('input', countReason);
  $('confirm-dialog').addEventListener('close', () => { confirmRun = null; });
}
