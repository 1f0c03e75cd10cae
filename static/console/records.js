// What the account, user and order pages share: the title line with the reveal of personal data, the tables of
// orders and messages, and the actions on them (reveal, resend, unbind), each through the confirmation dialog.

import { api } from './api.js';
import { confirmAction } from './dialog.js';
import { el } from './dom.js';
import { flash } from './flash.js';
import { beijing, dash, enc, named, yuan } from './format.js';
import { MESSAGE_KINDS, ORDER_STATES, PLATFORM_NAMES } from './labels.js';
import { can } from './session.js';
import { reload } from './view.js';
import { actionButton, badge, clipped, dataTable, orderLink, stateBadge } from './widgets.js';

// The page's title line: what it is, whether personal data is masked, and the reveal button for those allowed.
export function pageHead(title, subtitle, data, reveal) {
  const head = el('div', { class: 'page-head' }, el('h1', {}, title, subtitle ? el('span', { class: 'hint', text: ` ${subtitle}` }) : null));
  const tools = el('div', { class: 'tools' });
  if (data.masked) {
    tools.append(badge('已脱敏 masked', 'masked'));
    if (can('reveal')) tools.append(actionButton('显示完整信息 Reveal', 'reveal', reveal));
  } else {
    tools.append(badge('完整信息（已记入审计）unmasked', 'unmasked'));
  }
  head.append(tools);
  return head;
}

export function askReveal(kind, key, what, render) {
  confirmAction({
    title: '显示完整信息 Reveal personal data',
    what,
    ok: '显示 Reveal',
    run: async (reason) => {
      const data = await api('POST', '/reveal', { kind, key, reason });
      render(data);
      flash('已显示完整信息；本次查看已记入审计日志 revealed, audited');
    },
  });
}

export function messagesTable(messages) {
  return dataTable({
    id: 'messages',
    rows: messages,
    rowAttrs: (m) => ({ 'data-message-id': m.id, 'data-state': m.state }),
    columns: [
      { label: 'ID', cell: (m) => m.id, cls: 'mono' },
      { label: '类型', cell: (m) => named(MESSAGE_KINDS, m.kind) },
      { label: '阶段', cell: (m) => m.stage },
      { label: '渠道', cell: (m) => named(PLATFORM_NAMES, m.channel) },
      { label: '接收者', cell: (m) => m.recipient, cls: 'mono' },
      { label: '状态', cell: (m) => stateBadge({}, m.state) },
      { label: '尝试', cell: (m) => m.attempts, cls: 'num' },
      { label: '错误', cell: (m) => clipped(m.last_error) },
      { label: '平台回复', cell: (m) => clipped(m.platform_reply) },
      { label: '创建', cell: (m) => beijing(m.created_at), cls: 'time' },
      { label: '发送', cell: (m) => beijing(m.sent_at), cls: 'time' },
      { label: '操作', cell: (m) => (m.state === 'failed' && can('resend') ? actionButton('重发 Resend', 'resend', () => askResend(m)) : ''), cls: 'act' },
    ],
  });
}

function askResend(message) {
  confirmAction({
    title: '重发消息 Resend a message',
    what: `重新发送消息 ${message.id}（${named(MESSAGE_KINDS, message.kind)} · ${named(PLATFORM_NAMES, message.channel)} → ${dash(message.recipient)}）`,
    ok: '重发 Resend',
    run: async (reason) => {
      const answer = await api('POST', `/messages/${enc(message.id)}/resend`, { reason });
      const state = answer && answer.message ? answer.message.state : '';
      flash(`消息 ${message.id} 已重发，状态 ${dash(state)}`);
      reload();
    },
  });
}

export function ordersTable(orders) {
  return dataTable({
    id: 'orders',
    rows: orders,
    rowAttrs: (o) => ({ 'data-order-no': o.order_no }),
    columns: [
      { label: '订单号', cell: (o) => orderLink(o.order_no), cls: 'mono' },
      { label: '平台', cell: (o) => named(PLATFORM_NAMES, o.platform) },
      { label: '金额', cell: (o) => yuan(o.amount_fen), cls: 'num' },
      { label: '状态', cell: (o) => stateBadge(ORDER_STATES, o.state) },
      { label: '创建', cell: (o) => beijing(o.created_at), cls: 'time' },
      { label: '支付', cell: (o) => beijing(o.paid_at), cls: 'time' },
      { label: '已退', cell: (o) => yuan(o.refunded_fen), cls: 'num' },
    ],
  });
}

export function askUnbind(binding, what) {
  confirmAction({
    title: '解除绑定 Unbind',
    what,
    ok: '解除绑定 Unbind',
    danger: true,
    run: async (reason) => {
      await api('POST', `/bindings/${enc(binding.id)}/unbind`, { reason });
      flash(`已解除绑定 ${binding.id} unbound`);
      reload();
    },
  });
}
