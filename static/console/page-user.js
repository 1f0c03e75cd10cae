// The user page: a customer of the mini-programs, the accounts they bound (with unbinding), orders and messages.

import { api } from './api.js';
import { beijing, dash, enc, named, yesNo } from './format.js';
import { PLATFORM_NAMES } from './labels.js';
import { askReveal, askUnbind, messagesTable, ordersTable, pageHead } from './records.js';
import { can } from './session.js';
import { startView } from './view.js';
import { accountLink, actionButton, dataTable, facts, section } from './widgets.js';

export async function showUser(userId) {
  const view = startView('user');
  const data = await api('GET', `/users/${enc(userId)}`);
  if (view.current()) renderUser(view, data);
}

function renderUser(view, data) {
  const user = data.user || {};
  const reveal = () => askReveal('user', user.id, `显示用户 ${user.id} 的完整信息（平台标识、手机号）。`,
    (unmasked) => renderUser(view, unmasked));
  view.done(
    pageHead(`用户 ${dash(user.id)}`, named(PLATFORM_NAMES, user.platform), data, reveal),
    facts([
      ['平台 platform', named(PLATFORM_NAMES, user.platform)],
      ['平台标识 subject', user.subject],
      ['unionid', user.unionid],
      ['支付宝 user id', user.alipay_user_id],
      ['支付宝 open id', user.alipay_open_id],
      ['手机 phone', user.phone],
      ['注册 created', beijing(user.created_at)],
      ['最近登录 last login', beijing(user.last_login_at)],
    ]),
    section('绑定的户号', 'bindings', dataTable({
      id: 'bindings',
      rows: data.bindings,
      empty: '没有绑定 no bindings',
      rowAttrs: (b) => ({ 'data-binding-id': b.id, 'data-account-no': b.account_no }),
      columns: [
        { label: 'ID', cell: (b) => b.id, cls: 'mono' },
        { label: '户号', cell: (b) => accountLink(b.account_no), cls: 'mono' },
        { label: '备注', cell: (b) => b.label },
        { label: '默认', cell: (b) => yesNo(b.is_default) },
        { label: '绑定时间', cell: (b) => beijing(b.bound_at), cls: 'time' },
        {
          label: '操作',
          cls: 'act',
          cell: (b) => (can('unbind') ? actionButton('解绑 Unbind', 'unbind danger', () => askUnbind(b,
            `解除用户 ${user.id}（${named(PLATFORM_NAMES, user.platform)}）与户号 ${b.account_no} 的绑定`)) : ''),
        },
      ],
    })),
    section('订单', 'orders', ordersTable(data.orders)),
    section('消息', 'messages', messagesTable(data.messages)),
  );
}
