// The home page (what the search box takes) and the search: one match goes straight to its record, several are
// listed.

import { api } from './api.js';
import { $, el } from './dom.js';
import { clearFlash } from './flash.js';
import { enc, named } from './format.js';
import { can } from './session.js';
import { go, startView } from './view.js';
import { dataTable, link } from './widgets.js';

const RESULT_KINDS = { account: '户号 account', user: '用户 user', order: '订单 order' };
const QUERY_KINDS = { order: '订单号', phone: '手机号', account: '户号', user: '用户标识' };

export function showHome() {
  const view = startView('home');
  view.done(
    el('h1', { text: '查询 Look up' }),
    el('p', {}, '在上方搜索框输入以下任意一种，回车：'),
    el('ul', { class: 'kinds' },
      el('li', {}, el('b', { text: '户号' }), ' account number'),
      el('li', {}, el('b', { text: '订单号' }), ' order number (EB…)'),
      el('li', {}, el('b', { text: '手机号' }), ' the phone a customer verified'),
      el('li', {}, el('b', { text: '用户标识' }), ' ebill user id, WeChat openid/unionid, Alipay user id/open id')),
    el('p', { class: 'hint', text: '个人信息默认脱敏；查看完整信息需填写原因，并记入审计日志。' }),
  );
  if (can('lookup')) $('search-input').focus();
}

export function submitSearch(event) {
  event.preventDefault();
  const q = $('search-input').value.trim();
  if (!q) return;
  clearFlash();
  go(`#/search?q=${enc(q)}`);
}

export async function showSearch(q) {
  $('search-input').value = q;
  if (!q.trim()) {
    showHome();
    return;
  }
  const view = startView('search');
  const answer = await api('GET', `/search?q=${enc(q)}`);
  if (!view.current()) return;
  const results = (answer && answer.results) || [];
  if (results.length === 1) {
    // One match: straight to it, replacing the search in the history so that Back leaves it.
    location.replace(resultHash(results[0]));
    return;
  }
  const kind = answer && answer.kind ? named(QUERY_KINDS, answer.kind) : '';
  if (results.length === 0) {
    view.done(el('h1', {}, '未找到 ', el('span', { class: 'hint', text: 'no match' })),
      el('p', { id: 'search-none', text: `按${kind || '关键字'}「${q}」没有找到记录。` }));
    return;
  }
  view.done(
    el('h1', {}, `${results.length} 条结果 `, el('span', { class: 'hint', text: `${kind}「${q}」` })),
    dataTable({
      id: 'search-results',
      rows: results,
      rowAttrs: (r) => ({ 'data-kind': r.kind, 'data-key': r.key }),
      columns: [
        { label: '类型', cell: (r) => named(RESULT_KINDS, r.kind) },
        { label: '记录', cell: (r) => link(resultHash(r), r.title || r.key) },
        { label: '说明', cell: (r) => r.subtitle },
      ],
    }),
  );
}

function resultHash(result) {
  return `#/${enc(result.kind)}/${enc(result.key)}`;
}
