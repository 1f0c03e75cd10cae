// The order page: the order, the bills it paid, its payments (with refunding), refunds, the platforms' notifies and
// the incidents about it; and asking the platform for the order's state.

import { api } from './api.js';
import { confirmAction } from './dialog.js';
import { el } from './dom.js';
import { flash } from './flash.js';
import { beijing, dash, enc, named, parseYuan, yuan, yuanInput } from './format.js';
import { ORDER_STATES, PLATFORM_NAMES } from './labels.js';
import { askReveal, pageHead } from './records.js';
import { can } from './session.js';
import { reload, startView } from './view.js';
import { accountLink, actionButton, clipped, dataTable, facts, section, stateBadge, userLink } from './widgets.js';

export async function showOrder(orderNo) {
  const view = startView('order');
  const data = await api('GET', `/orders/${enc(orderNo)}`);
  if (view.current()) renderOrder(view, data);
}

function renderOrder(view, data) {
  const order = data.order || {};
  const reveal = () => askReveal('order', order.order_no, `显示订单 ${order.order_no} 的完整信息（付款人）。`,
    (unmasked) => renderOrder(view, unmasked));
  const tools = el('div', { class: 'actions' });
  if (can('query_order')) {
    tools.append(actionButton('向平台查询 Query the platform', 'query-order', () => askQueryOrder(order)));
  }
  const refundBox = el('div', { id: 'refund-box', class: 'refund-box', hidden: true });
  view.done(
    pageHead(`订单 ${dash(order.order_no)}`, named(ORDER_STATES, order.state), data, reveal),
    facts([
      ['户号 account', accountLink(order.account_no)],
      ['用户 user', userLink(order.user_id)],
      ['平台 platform', named(PLATFORM_NAMES, order.platform)],
      ['付款人 payer', order.payer],
      ['金额 amount', yuan(order.amount_fen)],
      ['状态 state', stateBadge(ORDER_STATES, order.state)],
      ['标记 flag', order.flag],
      ['创建 created', beijing(order.created_at)],
      ['过期 expires', beijing(order.expires_at)],
      ['支付 paid', beijing(order.paid_at)],
      ['已退 refunded', yuan(order.refunded_fen)],
    ]),
    tools,
    section('账单', 'bills paid by this order', dataTable({
      id: 'order-bills',
      rows: data.bills,
      columns: [
        { label: '账单', cell: (b) => b.bill_id, cls: 'mono' },
        { label: '账期', cell: (b) => b.period },
        { label: '本金', cell: (b) => yuan(b.principal_fen), cls: 'num' },
        { label: '违约金', cell: (b) => yuan(b.late_fee_fen), cls: 'num' },
      ],
    })),
    section('付款', 'payments', dataTable({
      id: 'payments',
      rows: data.payments,
      rowAttrs: (p) => ({ 'data-payment-id': p.id }),
      columns: [
        { label: 'ID', cell: (p) => p.id, cls: 'mono' },
        { label: '平台交易号', cell: (p) => p.transaction_id, cls: 'mono' },
        { label: '金额', cell: (p) => yuan(p.amount_fen), cls: 'num' },
        { label: '入账', cell: (p) => yuan(p.applied_fen), cls: 'num' },
        { label: '余额', cell: (p) => yuan(p.surplus_fen), cls: 'num' },
        { label: '结果', cell: (p) => p.outcome },
        { label: '来源', cell: (p) => p.source },
        { label: '支付', cell: (p) => beijing(p.paid_at), cls: 'time' },
        { label: '收到', cell: (p) => beijing(p.received_at), cls: 'time' },
        { label: '可退', cell: (p) => yuan(p.refundable_fen), cls: 'num' },
        { label: '回写', cell: (p) => writeback(p.writeback) },
        {
          label: '操作',
          cls: 'act',
          cell: (p) => (can('refund') && Number(p.refundable_fen) > 0
            ? actionButton('退款 Refund', 'refund', () => openRefund(refundBox, order, p)) : ''),
        },
      ],
    })),
    refundBox,
    section('退款', 'refunds', dataTable({
      id: 'refunds',
      rows: data.refunds,
      rowAttrs: (r) => ({ 'data-refund-id': r.id, 'data-state': r.state }),
      columns: [
        { label: '退款单号', cell: (r) => r.out_refund_no, cls: 'mono' },
        { label: '付款', cell: (r) => r.payment_id, cls: 'mono' },
        { label: '金额', cell: (r) => yuan(r.amount_fen), cls: 'num' },
        { label: '类型', cell: (r) => r.kind },
        { label: '状态', cell: (r) => stateBadge({}, r.state) },
        { label: '原因', cell: (r) => clipped(r.reason) },
        { label: '发起', cell: (r) => r.requested_by },
        { label: '平台退款号', cell: (r) => r.platform_refund_id, cls: 'mono' },
        { label: '错误', cell: (r) => clipped(r.last_error) },
        { label: '创建', cell: (r) => beijing(r.created_at), cls: 'time' },
        { label: '更新', cell: (r) => beijing(r.updated_at), cls: 'time' },
      ],
    })),
    section('平台通知', 'notifies received', dataTable({
      id: 'notifies',
      rows: data.notifies,
      columns: [
        { label: '平台', cell: (n) => named(PLATFORM_NAMES, n.platform) },
        { label: '类型', cell: (n) => n.kind },
        { label: '交易号', cell: (n) => n.transaction_id, cls: 'mono' },
        { label: '退款单号', cell: (n) => n.out_refund_no, cls: 'mono' },
        { label: '平台状态', cell: (n) => n.reported_state },
        { label: '金额', cell: (n) => yuan(n.amount_fen), cls: 'num' },
        { label: '处理', cell: (n) => n.outcome },
        { label: '收到', cell: (n) => beijing(n.received_at), cls: 'time' },
      ],
    })),
    section('异常', 'incidents', dataTable({
      id: 'incidents',
      rows: data.incidents,
      rowAttrs: (i) => ({ 'data-kind': i.kind }),
      columns: [
        { label: '类型', cell: (i) => i.kind },
        { label: '单号', cell: (i) => i.reference, cls: 'mono' },
        { label: '次数', cell: (i) => i.occurrences, cls: 'num' },
        { label: '详情', cell: (i) => clipped(JSON.stringify(i.detail)) },
        { label: '首次', cell: (i) => beijing(i.first_seen_at), cls: 'time' },
        { label: '最近', cell: (i) => beijing(i.last_seen_at), cls: 'time' },
        { label: '已处理', cell: (i) => (i.resolved_at ? beijing(i.resolved_at) : '—'), cls: 'time' },
      ],
    })),
  );
}

// The write-back to the marketing system: its state and attempts, with the time and any error in the tooltip.
function writeback(wb) {
  if (!wb) return '—';
  const title = `${beijing(wb.updated_at)}${wb.last_error ? ` · ${wb.last_error}` : ''}`;
  return el('span', { class: 'clip', title, text: `${dash(wb.state)} · ${dash(wb.attempts)}次${wb.last_error ? ' ⚠' : ''}` });
}

function askQueryOrder(order) {
  confirmAction({
    title: '向平台查询订单 Query the order',
    what: `向${named(PLATFORM_NAMES, order.platform)}查询订单 ${order.order_no} 的支付状态；若平台已收款，将据此入账。`,
    ok: '查询 Query',
    run: async (reason) => {
      const answer = await api('POST', `/orders/${enc(order.order_no)}/query`, { reason });
      flash(`平台状态 platform state: ${dash(answer && answer.platform_state)}${answer && answer.settled ? '；已入账 settled' : ''}`);
      reload();
    },
  });
}

// The refund form under the payments: an amount in yuan (the payment's refundable amount to start with), then the
// confirmation, which repeats the amount.
function openRefund(box, order, payment) {
  const input = el('input', { id: 'refund-amount', type: 'text', inputmode: 'decimal', autocomplete: 'off',
    value: yuanInput(payment.refundable_fen) });
  const error = el('p', { id: 'refund-error', class: 'error', role: 'alert', hidden: true });
  const submit = el('button', { type: 'submit', id: 'refund-submit', class: 'primary', text: '退款… Refund' });
  const cancel = el('button', { type: 'button', id: 'refund-cancel', text: '取消 Cancel' });
  const form = el('form', { id: 'refund-form', class: 'refund-form' },
    el('h3', { text: `退款：付款 ${payment.id}` }),
    el('p', { class: 'hint', text: `平台交易号 ${dash(payment.transaction_id)} · 可退 ${yuan(payment.refundable_fen)} · 原路退回` }),
    el('label', { class: 'field' }, '金额（元）amount, yuan', input),
    error,
    el('div', { class: 'buttons' }, cancel, submit));
  cancel.addEventListener('click', () => { box.hidden = true; box.replaceChildren(); });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const fen = parseYuan(input.value);
    const refundable = Number(payment.refundable_fen);
    let problem = null;
    if (fen === null) problem = '请输入正数金额，最多两位小数 a positive amount, at most 2 decimals';
    else if (fen > refundable) problem = `超过可退金额 ${yuan(refundable)}`;
    error.hidden = !problem;
    error.textContent = problem || '';
    if (problem) return;
    confirmAction({
      title: '退款 Refund',
      what: `退款 ${yuan(fen)} 给订单 ${order.order_no} 的付款人${order.payer ? ` ${order.payer}` : ''}`
        + `（付款 ${payment.id}，平台交易号 ${dash(payment.transaction_id)}，原路退回）。`,
      ok: `退款 ${yuan(fen)}`,
      danger: true,
      run: async (reason) => {
        const answer = await api('POST', `/orders/${enc(order.order_no)}/refunds`,
          { amount_fen: fen, reason, payment_id: payment.id });
        const refund = (answer && answer.refund) || {};
        flash(`退款已提交 ${yuan(fen)}：${dash(refund.out_refund_no)}，状态 ${dash(refund.state)}`);
        reload();
      },
    });
  });
  box.replaceChildren(form);
  box.hidden = false;
  input.focus();
  input.select();
}
