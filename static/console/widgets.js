// The pieces pages are built of: sections, lists of facts, tables, links to records, badges, clipped text and
// buttons. They only build elements; what a button does is up to the page.

import { el } from './dom.js';
import { dash, enc, named } from './format.js';

export function section(title, hint, ...content) {
  return el('section', { class: 'block' }, el('h2', {}, title, hint ? el('span', { class: 'hint', text: ` ${hint}` }) : null),
    ...content);
}

export function facts(pairs) {
  const list = el('dl', { class: 'facts' });
  for (const [label, value] of pairs) {
    list.append(el('div', { class: 'fact' }, el('dt', { text: label }),
      el('dd', {}, value instanceof Node ? value : dash(value))));
  }
  return list;
}

// A table that scrolls sideways on a narrow screen. columns: [{ label, cell: row => string | Node, cls }].
export function dataTable({ id, columns, rows, empty = '无 none', rowAttrs }) {
  const head = el('tr', {}, columns.map((column) => el('th', { class: column.cls, text: column.label })));
  const body = el('tbody');
  if (!rows || rows.length === 0) {
    body.append(el('tr', { class: 'empty' }, el('td', { colspan: columns.length, text: empty })));
  }
  for (const row of rows || []) {
    const tr = el('tr', rowAttrs ? rowAttrs(row) : {});
    for (const column of columns) {
      const value = column.cell(row);
      tr.append(el('td', { class: column.cls }, value instanceof Node ? value : dash(value)));
    }
    body.append(tr);
  }
  return el('div', { class: 'table-wrap' }, el('table', { id, class: 'data' }, el('thead', {}, head), body));
}

export function link(hash, text) {
  return el('a', { href: hash, text: dash(text) });
}

export const accountLink = (no) => (no ? link(`#/account/${enc(no)}`, no) : '—');
export const userLink = (id) => (id ? link(`#/user/${enc(id)}`, id) : '—');
export const orderLink = (no) => (no ? link(`#/order/${enc(no)}`, no) : '—');

export function badge(text, kind) {
  return el('span', { class: `badge badge-${kind || 'plain'}`, text });
}

export function stateBadge(names, value) {
  return el('span', { class: `state state-${String(value || '').replace(/[^a-z_]/g, '')}`, 'data-state': value,
    text: named(names, value) });
}

// Cut long text (an error, a platform's reply, a user agent) with the whole of it in the tooltip.
export function clipped(text, keep = 40) {
  if (text === null || text === undefined || text === '') return '—';
  const s = typeof text === 'string' ? text : JSON.stringify(text);
  return [...s].length > keep ? el('span', { class: 'clip', title: s, text: `${[...s].slice(0, keep).join('')}…` }) : s;
}

export function actionButton(label, cls, onClick) {
  const button = el('button', { type: 'button', class: `small ${cls}`, text: label });
  button.addEventListener('click', onClick);
  return button;
}
