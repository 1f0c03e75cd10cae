// The account page: the account's holder, its bindings (with unbinding), bills, orders and messages.

import { api } from './api.js';
import { beijing, dash, enc, named, yesNo, yuan } from './format.js';
import { PLATFORM_NAMES } from './labels.js';
import { askReveal, askUnbind, messagesTable, ordersTable, pageHead } from './records.js';
import { can } from './session.js';
import { startView } from './view.js';
import { actionButton, dataTable, facts, section, stateBadge, userLink } from './widgets.js';

const BILL_STATUSES = { unpaid: '未缴 unpaid', partially_paid: '部分缴 part paid', paid: '已缴 paid', overdue: '逾期 overdue' };

export async function showAccount(accountNo) {
  const view = startView('account');
  const data = await api('GET', `/accounts/${enc(accountNo)}`);
  if (view.current()) renderAccount(view, data);
}

function renderAccount(view, data) {
  const account = data.account || {};
  const holder = dash(account.holder_name);
  const reveal = () => askReveal('account', account.account_no,
    `显示户号 ${account.account_no} 的完整个人信息（户主姓名、地址、电话）。`, (unmasked) => renderAccount(view, unmasked));
  view.done(
    pageHead(`户号 ${dash(account.account_no)}`, holder, data, reveal),
    facts([
      ['户主 holder', account.holder_name],
      ['地址 address', account.address],
      ['电话 phone', account.phone],
      ['类型 type', account.account_type],
      ['供电单位 supply unit', account.supply_unit],
      ['预存 credit', yuan(account.credit_fen)],
    ]),
    section('绑定', 'bindings', dataTable({
      id: 'bindings',
      rows: data.bindings,
      empty: '没有绑定 no bindings',
      rowAttrs: (b) => ({ 'data-binding-id': b.id, 'data-user-id': b.user_id }),
      columns: [
        { label: 'ID', cell: (b) => b.id, cls: 'mono' },
        { label: '用户', cell: (b) => userLink(b.user_id), cls: 'mono' },
        { label: '平台', cell: (b) => named(PLATFORM_NAMES, b.platform) },
        { label: '平台标识', cell: (b) => b.subject, cls: 'mono' },
        { label: '备注', cell: (b) => b.label },
        { label: '默认', cell: (b) => yesNo(b.is_default) },
        { label: '绑定时间', cell: (b) => beijing(b.bound_at), cls: 'time' },
        { label: '最近登录', cell: (b) => beijing(b.last_login_at), cls: 'time' },
        {
          label: '操作',
          cls: 'act',
          cell: (b) => (can('unbind') ? actionButton('解绑 Unbind', 'unbind danger', () => askUnbind(b,
            `解除 ${holder} 与户号 ${account.account_no} 的绑定（用户 ${b.user_id}，${named(PLATFORM_NAMES, b.platform)}）`)) : ''),
        },
      ],
    })),
    section('账单', 'bills', dataTable({
      id: 'bills',
      rows: data.bills,
      rowAttrs: (b) => ({ 'data-bill-id': b.id }),
      columns: [
        { label: 'ID', cell: (b) => b.id, cls: 'mono' },
        { label: '账期', cell: (b) => b.period },
        { label: '应缴', cell: (b) => yuan(b.total_fen), cls: 'num' },
        { label: '已缴', cell: (b) => yuan(b.paid_fen), cls: 'num' },
        { label: '状态', cell: (b) => stateBadge(BILL_STATUSES, b.status) },
        { label: '到期日', cell: (b) => b.due_date },
      ],
    })),
    section('订单', 'orders', ordersTable(data.orders)),
    section('消息', 'messages', messagesTable(data.messages)),
  );
}
