// The audit log, for admins: filtered by staff, action, record and Beijing dates, a page at a time, and exported as
// CSV.

import { api, API } from './api.js';
import { el } from './dom.js';
import { beijing, beijingDayStart, dash } from './format.js';
import { go, showError, startView } from './view.js';
import { accountLink, clipped, orderLink, stateBadge, userLink } from './widgets.js';

const AUDIT_PAGE = 100;
const RECORD_KINDS = ['account', 'user', 'order', 'binding', 'message', 'staff', 'audit'];
// Suggestions for the audit filter; the log may hold others.
const AUDIT_ACTIONS = [
  'login', 'logout', 'search', 'view_account', 'view_user', 'view_order', 'reveal_account', 'reveal_user', 'reveal_order',
  'unbind', 'resend_message', 'query_order',
  'refund', 'add_staff', 'change_staff', 'list_staff', 'search_audit', 'export_audit',
];

const AUDIT_FILTERS = ['staff', 'action', 'record_kind', 'record_id', 'from', 'to'];

// The API's query for the filters in the hash (dates as Beijing days, turned into epoch ms).
function auditQuery(params) {
  const query = new URLSearchParams();
  for (const name of ['staff', 'action', 'record_kind', 'record_id']) {
    const value = (params.get(name) || '').trim();
    if (value) query.set(name, value);
  }
  const from = beijingDayStart(params.get('from'), false);
  const to = beijingDayStart(params.get('to'), true);
  if (from !== null) query.set('from', String(from));
  if (to !== null) query.set('to', String(to));
  return query;
}

export async function showAudit(params) {
  const view = startView('audit');
  const query = auditQuery(params);
  const form = auditForm(params);
  const csv = el('a', { id: 'audit-csv', class: 'button', href: `${API}/audit.csv?${query}`, download: 'audit.csv',
    text: '导出 CSV Export' });
  const body = el('tbody');
  const more = el('button', { type: 'button', id: 'audit-more', hidden: true, text: '更多 More' });
  const table = el('div', { class: 'table-wrap' }, el('table', { id: 'audit-log', class: 'data' },
    el('thead', {}, el('tr', {}, ['时间', '员工', '动作', '记录', '原因', '结果', 'IP', '浏览器', '详情']
      .map((label) => el('th', { text: label })))),
    body));
  let before = null;
  const loadPage = async () => {
    const page = new URLSearchParams(query);
    page.set('limit', String(AUDIT_PAGE));
    if (before) page.set('before', before);
    const answer = await api('GET', `/audit?${page}`);
    if (!view.current()) return;
    const entries = (answer && answer.entries) || [];
    for (const entry of entries) body.append(auditRow(entry));
    if (body.children.length === 0) {
      body.append(el('tr', { class: 'empty' }, el('td', { colspan: 9, text: '没有记录 no entries' })));
    }
    before = answer ? answer.next_before : null;
    more.hidden = before === null || before === undefined;
  };
  more.addEventListener('click', () => {
    more.disabled = true;
    loadPage().catch(showError).finally(() => { more.disabled = false; });
  });
  await loadPage();
  view.done(
    el('div', { class: 'page-head' }, el('h1', {}, '审计日志 ', el('span', { class: 'hint', text: 'audit log' })),
      el('div', { class: 'tools' }, csv)),
    form, table, more);
}

function auditForm(params) {
  const field = (name, label, input) => el('label', { class: 'field' }, label, input);
  const text = (name) => el('input', { id: `audit-${name.replace('_', '-')}`, name, type: 'text', autocomplete: 'off',
    value: params.get(name) || '' });
  const action = text('action');
  action.setAttribute('list', 'audit-actions');
  const kind = el('select', { id: 'audit-record-kind', name: 'record_kind' }, el('option', { value: '', text: '全部 all' }),
    RECORD_KINDS.map((k) => el('option', { value: k, text: k })));
  kind.value = params.get('record_kind') || '';
  const date = (name) => el('input', { id: `audit-${name}`, name, type: 'date', value: params.get(name) || '' });
  const form = el('form', { id: 'audit-filters', class: 'filters' },
    field('staff', '员工 staff', text('staff')),
    field('action', '动作 action', action),
    el('datalist', { id: 'audit-actions' }, AUDIT_ACTIONS.map((a) => el('option', { value: a }))),
    field('record_kind', '记录类型 kind', kind),
    field('record_id', '记录 record id', text('record_id')),
    field('from', '从（北京时间）from', date('from')),
    field('to', '到 to', date('to')),
    el('div', { class: 'buttons' },
      el('button', { type: 'submit', id: 'audit-apply', class: 'primary', text: '筛选 Filter' }),
      el('a', { href: '#/audit', class: 'button', text: '清除 Clear' })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of AUDIT_FILTERS) {
      const value = (form.elements[name].value || '').trim();
      if (value) next.set(name, value);
    }
    go(`#/audit${next.toString() ? `?${next}` : ''}`);
  });
  return form;
}

function recordLink(kind, id) {
  if (!id) return dash(kind);
  if (kind === 'account') return accountLink(id);
  if (kind === 'user') return userLink(id);
  if (kind === 'order') return orderLink(id);
  return String(id);
}

function auditRow(entry) {
  const detail = entry.detail === null || entry.detail === undefined ? null
    : (typeof entry.detail === 'string' ? entry.detail : JSON.stringify(entry.detail));
  const cells = [
    el('td', { class: 'time', text: beijing(entry.at) }),
    el('td', { text: dash(entry.staff_name) }),
    el('td', { class: 'mono', text: dash(entry.action) }),
    el('td', {}, el('span', { class: 'hint', text: `${dash(entry.record_kind)} ` }), recordLink(entry.record_kind, entry.record_id)),
    el('td', { class: 'reason', text: dash(entry.reason) }),
    el('td', {}, stateBadge({}, entry.outcome)),
    el('td', { class: 'mono', text: dash(entry.ip) }),
    el('td', {}, clipped(entry.user_agent, 24)),
    el('td', { class: 'mono detail' }, clipped(detail, 60)),
  ];
  return el('tr', { 'data-action': entry.action, 'data-outcome': entry.outcome, 'data-id': entry.id }, cells);
}
