// The sandbox demo: plays the customer's mini-program against this server's real API and its simulated platforms,
// and shows what happens behind it. Plain ES2020, no dependencies; served under a CSP that allows only 'self'.
// The access token lives in memory only.
'use strict';

// The sandbox's built-in templates, per platform and kind: src/config/messages.rs, MessageSettings::sandbox_templates().
// GET /api/v1/preferences lists only templates already answered, so the mini-program knows its ids, as a real one does.
const TEMPLATES = {
  wechat: {
    new_bill: 'aGLizhqGcxLSZZRATjKkxPqTs_juePRgsTm-WaYez9k',
    due_soon: 'ejwYDwYpK8_7szSwjIn19NI8bXwdTtAPMXDebXguHm4',
    due_today: 'fsPA2jm1_HgWI64-WitfY_eN8BN7MtujYooP2PvrhZw',
    overdue: 'A_fv-sxP-rYb7MjkvTuy_Ewc8aBrO35FWvqYfqarxv8',
    payment_received: 'oufXwSnSPR7pwOd6cZcfndHQjDp66pccTtfmlESJKcc',
    refund_done: '5TjIIbINaj7gKb5Pr-yfEWAVNqgpiwNdxrvBQU1GqbI',
  },
  alipay: {
    new_bill: 'AT0001FCAFC43FA3FC441D352A304958',
    due_soon: 'AT0001A8CEFADF8283BBDF2D6FAF473A',
    due_today: 'AT000114C4195D4E0942675DEC6064F0',
    overdue: 'AT00011E7FAFD4F98F6E4D6C480D01DA',
    payment_received: 'AT0001996954CC9F3BA6677AE117F91C',
    refund_done: 'AT00012C057BF801A47D5734F7676F3F',
  },
};
// wx.requestSubscribeMessage asks about at most 3 templates at a time.
const SUBSCRIBE_KINDS = ['new_bill', 'payment_received', 'due_soon'];

// The demo accounts: src/sandbox/demo_data.rs. The proof is the last 4 digits of the registered phone.
const DEMO_ACCOUNTS = [
  { account_no: '3100012345', holder: '张三', proof: '1234', note: '居民 阶梯 · residential, tiered' },
  { account_no: '3100023456', holder: '李四', proof: '5678', note: '居民 分时 · residential, time of use' },
  { account_no: '3100034567', holder: '王五', proof: '1234', note: '商铺 逾期 · shop, overdue bill' },
];

const PLATFORMS = {
  wechat: { name: '微信', pay: '微信支付 WeChat Pay', defaultUser: 'demo-wechat' },
  alipay: { name: '支付宝', pay: '支付宝 Alipay', defaultUser: 'demo-alipay' },
};
const KIND_NAMES = {
  new_bill: '出账通知 new bill', due_soon: '即将到期 due soon', due_today: '今日到期 due today',
  overdue: '逾期提醒 overdue', payment_received: '缴费成功 payment received', refund_done: '退款 refund',
};
const STATUS_NAMES = { unpaid: '未缴 unpaid', partially_paid: '部分缴 part paid', paid: '已缴 paid', overdue: '逾期 overdue' };
const ORDER_STATES = {
  pending: '待支付 pending', paid: '已支付 paid', flagged: '金额不符，待人工核查 flagged', closed: '已关闭 closed',
  expired: '已过期 expired', failed: '失败 failed',
};
const BANDS = { sharp: '尖峰', peak: '峰', flat: '平', valley: '谷' };
const REFRESH_MS = 2000;
const ORDER_POLL_MS = 1000;
const ORDER_POLL_LIMIT = 120;

// What the mini-program holds, in memory only.
const app = {
  platform: 'wechat',
  user: '',
  token: null,
  refreshToken: null,
  userId: null,
  recipient: null, // the user's openid or Alipay user id, told by the simulated platform
  accountNo: null,
  bill: null,
  order: null,
  screens: [],
  loop: {},
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function yuan(fen) {
  if (fen === null || fen === undefined) return '—';
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

function clock(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

function short(text, keep = 10) {
  const s = String(text || '');
  return s.length > keep + 2 ? `${s.slice(0, keep)}…` : s;
}

function kindOf(templateId) {
  for (const templates of Object.values(TEMPLATES)) {
    for (const [kind, id] of Object.entries(templates)) if (id === templateId) return kind;
  }
  return null;
}

// ---- calls -------------------------------------------------------------------------------------------------------

class CallError extends Error {
  constructor(status, body) {
    const code = (body && body.code) || `HTTP_${status}`;
    super((body && body.message) || `the server answered ${status}`);
    this.status = status;
    this.code = code;
  }
}

// One call to this server; logged in the behind-the-scenes panel (the token never is). Throws CallError on non-2xx.
async function call(method, path, body, options = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.auth) headers.Authorization = `Bearer ${app.token}`;
  let status = 0;
  let data = null;
  try {
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
    });
    status = response.status;
    const text = await response.text();
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { message: text.slice(0, 200) }; }
  } catch (error) {
    if (!options.quiet) logCall(method, path, 'network error');
    throw new CallError(0, { code: 'NETWORK', message: String(error) });
  }
  if (!options.quiet) logCall(method, path, status, data);
  // An access token lives an hour: renew it once with the refresh token, as the mini-program would.
  if (status === 401 && options.auth && !options.retried && data && data.code === 'TOKEN_EXPIRED' && app.refreshToken) {
    await refreshSession();
    return call(method, path, body, { ...options, retried: true });
  }
  if (status < 200 || status >= 300) throw new CallError(status, data);
  return data;
}

async function refreshSession() {
  const refreshToken = app.refreshToken;
  app.refreshToken = null; // each refresh token serves once
  const session = await call('POST', '/api/v1/auth/refresh', { refresh_token: refreshToken });
  app.token = session.access_token;
  app.refreshToken = session.refresh_token;
}

function logCall(method, path, status, data) {
  const list = $('api-log');
  const failed = typeof status !== 'number' || status >= 400;
  const code = failed && data && data.code ? ` ${data.code}` : '';
  const item = el('li', { class: failed ? 'failed' : '' },
    el('span', { class: 'when', text: clock(Date.now()) }),
    el('code', { text: `${method} ${path.split('?')[0]}` }),
    el('b', { text: `${status}${code}` }));
  list.prepend(item);
  while (list.children.length > 30) list.lastChild.remove();
}

function showError(id, error) {
  const node = $(id);
  node.hidden = false;
  node.dataset.code = error.code || '';
  node.textContent = `${error.code || 'ERROR'}: ${error.message}`;
}

function clearError(id) {
  const node = $(id);
  node.hidden = true;
  node.dataset.code = '';
  node.textContent = '';
}

// Runs a button's action once at a time, with the button disabled meanwhile.
function action(buttonId, run) {
  const button = $(buttonId);
  button.addEventListener('click', async () => {
    if (button.disabled) return;
    button.disabled = true;
    try { await run(); } catch (error) { console.error(error); } finally { button.disabled = false; }
  });
}

// ---- screens -----------------------------------------------------------------------------------------------------

const TITLES = {
  'screen-login': '电费账单', 'screen-bind': '绑定户号', 'screen-bills': '我的账单', 'screen-bill': '账单详情',
  'screen-cashier': '收银台', 'screen-order': '缴费结果',
};

function show(screenId, { remember = true } = {}) {
  const current = document.querySelector('.screen:not([hidden])');
  // The cashier and the order's result are steps of paying, not places to go back to.
  const transient = ['screen-cashier', 'screen-order'];
  if (remember && current && current.id !== screenId && !transient.includes(current.id)) app.screens.push(current.id);
  for (const screen of document.querySelectorAll('.screen')) screen.hidden = screen.id !== screenId;
  $('phone-title').textContent = TITLES[screenId] || '';
  $('nav-back').hidden = screenId === 'screen-login' || screenId === 'screen-cashier' || app.screens.length === 0;
  document.querySelector('.screen-area').scrollTop = 0;
}

function back() {
  const previous = app.screens.pop();
  if (!previous) return;
  if (previous === 'screen-bills') loadAccount().catch(console.error);
  show(previous, { remember: false });
}

function choosePlatform(platform) {
  app.platform = platform;
  $('phone').dataset.platform = platform;
  $('phone-platform').textContent = PLATFORMS[platform].name;
  $('platform-wechat').setAttribute('aria-pressed', String(platform === 'wechat'));
  $('platform-alipay').setAttribute('aria-pressed', String(platform === 'alipay'));
  const input = $('login-user');
  if (!input.value || Object.values(PLATFORMS).some((p) => p.defaultUser === input.value)) {
    input.value = PLATFORMS[platform].defaultUser;
  }
}

// ---- the loop: bill issued → message pushed → bill opened → paid → notify verified → settled → written back ------

function mark(step, note) {
  const item = document.querySelector(`#loop li[data-step="${step}"]`);
  if (!item) return;
  item.classList.add('done');
  item.dataset.done = 'true';
  if (note) item.title = note;
}

function resetLoop(steps) {
  for (const step of steps) {
    const item = document.querySelector(`#loop li[data-step="${step}"]`);
    if (item) { item.classList.remove('done'); item.dataset.done = 'false'; item.title = ''; }
  }
}

// ---- 1. log in ---------------------------------------------------------------------------------------------------

async function login() {
  clearError('login-error');
  const user = $('login-user').value.trim();
  try {
    let code;
    // What wx.login / my.getAuthCode would give the mini-program, from the simulated platform.
    if (app.platform === 'wechat') {
      code = (await call('POST', '/sandbox/wechat/login-codes', { user })).code;
    } else {
      code = (await call('POST', '/sandbox/alipay/auth-codes', { user })).auth_code;
    }
    const session = app.platform === 'wechat'
      ? await call('POST', '/api/v1/auth/wechat/login', { code })
      : await call('POST', '/api/v1/auth/alipay/login', { auth_code: code });
    app.token = session.access_token;
    app.refreshToken = session.refresh_token;
    app.userId = session.user && session.user.id;
    app.user = user;
    app.accountNo = null;
    app.order = null;
    app.screens = [];
    resetLoop(['issued', 'pushed', 'opened', 'paid', 'verified', 'settled', 'written']);
    // Neither login answer names the platform id; the simulated platform tells it when the user subscribes.
    app.recipient = session.user && (session.user.openid || session.user.user_id || session.user.open_id) || null;
    $('session-info').textContent =
      `${PLATFORMS[app.platform].name}用户 ${user} · ebill user ${app.userId} · token ${session.expires_in}s`;
    await loadBindings();
    show('screen-bind');
    refreshBehind();
  } catch (error) {
    showError('login-error', error);
  }
}

// ---- 2. bind -----------------------------------------------------------------------------------------------------

function renderDemoAccounts() {
  const list = $('demo-accounts');
  list.replaceChildren(...DEMO_ACCOUNTS.map((account) => {
    const button = el('button', { type: 'button', class: 'choice', 'data-testid': 'demo-account',
      'data-account': account.account_no },
    el('b', { text: account.account_no }), ` ${account.holder} · 尾号 ${account.proof}`,
    el('span', { class: 'hint', text: account.note }));
    button.addEventListener('click', () => {
      $('bind-account').value = account.account_no;
      $('bind-holder').value = account.holder;
      $('bind-proof').value = account.proof;
    });
    return el('li', {}, button);
  }));
}

async function loadBindings() {
  const answer = await call('GET', '/api/v1/bindings', undefined, { auth: true });
  const bindings = answer.bindings || [];
  $('my-bindings-box').hidden = bindings.length === 0;
  $('my-bindings').replaceChildren(...bindings.map((binding) => {
    const button = el('button', { type: 'button', class: 'choice', 'data-testid': 'my-binding',
      'data-account': binding.account_no },
    el('b', { text: binding.account_no }), ` ${binding.label || ''} ${binding.account.holder_name}`,
    el('span', { class: 'hint', text: `未缴 ${binding.arrears.unpaid_bills} 笔 ${yuan(binding.arrears.principal_fen)}` }));
    button.addEventListener('click', () => openAccount(binding.account_no).catch(console.error));
    return el('li', {}, button);
  }));
}

async function bind() {
  clearError('bind-error');
  const request = {
    account_no: $('bind-account').value.trim(),
    holder_name: $('bind-holder').value.trim(),
    proof: $('bind-proof').value.trim(),
  };
  const label = $('bind-label').value.trim();
  if (label) request.label = label;
  try {
    const binding = await call('POST', '/api/v1/bindings', request, { auth: true });
    await openAccount(binding.account_no);
  } catch (error) {
    showError('bind-error', error);
  }
}

// ---- 3. the account --------------------------------------------------------------------------------------------

async function openAccount(accountNo) {
  app.accountNo = accountNo;
  $('bill-list').replaceChildren();
  $('usage-chart').replaceChildren();
  show('screen-bills');
  await loadAccount();
}

async function loadAccount() {
  if (!app.accountNo) return;
  const no = encodeURIComponent(app.accountNo);
  const [page, summary, usage] = await Promise.all([
    call('GET', `/api/v1/accounts/${no}/bills?limit=12`, undefined, { auth: true }),
    call('GET', `/api/v1/accounts/${no}/summary`, undefined, { auth: true }),
    call('GET', `/api/v1/accounts/${no}/usage?months=12`, undefined, { auth: true }),
  ]);
  $('account-title').textContent = `户号 ${app.accountNo}`;
  $('account-arrears').classList.toggle('settled-up', summary.unpaid_bills === 0);
  $('account-arrears').textContent = summary.unpaid_bills > 0
    ? `待缴 ${yuan(summary.total_due_fen)}（${summary.unpaid_bills} 笔，含违约金 ${yuan(summary.late_fee_fen)}）`
    : '已全部缴清 · nothing to pay';
  renderBills(page.bills || []);
  renderUsage(usage.months || []);
  if ((page.bills || []).length > 0) mark('issued', `${page.bills[0].period}`);
}

function renderBills(bills) {
  $('bill-list').replaceChildren(...bills.map((bill) => {
    const payable = bill.amount_due_fen > 0 && bill.status !== 'paid';
    const button = el('button', { type: 'button', class: 'bill-row' },
      el('span', { class: 'period', text: bill.period }),
      el('span', { class: `status status-${bill.status}`, text: STATUS_NAMES[bill.status] || bill.status }),
      el('span', { class: 'kwh', text: `${bill.usage_kwh} kWh` }),
      el('b', { class: 'money', text: payable ? yuan(bill.amount_due_fen) : yuan(bill.total_fen) }));
    button.addEventListener('click', () => openBill(bill.id).catch(console.error));
    return el('li', { 'data-testid': 'bill-item', 'data-bill-id': bill.id, 'data-period': bill.period,
      'data-status': bill.status, 'data-payable': String(payable) }, button);
  }));
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Bars of this year's kWh beside the same month a year earlier, as inline SVG (no image, no script in the SVG).
function renderUsage(months) {
  const width = 340;
  const height = 170;
  const top = 14;
  const bottom = 22;
  const left = 6;
  const plot = height - top - bottom;
  const max = Math.max(1, ...months.flatMap((m) => [m.kwh || 0, m.previous_year_kwh || 0]));
  const slot = (width - left * 2) / Math.max(1, months.length);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
    'aria-label': 'monthly usage in kWh' });
  chart.append(svg('line', { x1: left, x2: width - left, y1: top + plot, y2: top + plot, class: 'axis' }));
  months.forEach((month, index) => {
    const x = left + index * slot;
    const bar = (value, offset, cls) => {
      if (value === null || value === undefined) return;
      const h = Math.max(1, Math.round((value / max) * plot));
      const rect = svg('rect', { x: (x + offset).toFixed(1), y: top + plot - h, width: (slot * 0.36).toFixed(1),
        height: h, class: cls });
      rect.append(svg('title', {}, `${month.period}: ${value} kWh`));
      chart.append(rect);
    };
    bar(month.previous_year_kwh, slot * 0.12, 'previous');
    bar(month.kwh, slot * 0.5, 'current');
    chart.append(svg('text', { x: (x + slot / 2).toFixed(1), y: height - 6, 'text-anchor': 'middle' },
      String(Number(month.period.slice(5)))));
  });
  const last = [...months].reverse().find((m) => m.kwh !== null && m.kwh !== undefined);
  if (last) chart.append(svg('text', { x: width - left, y: 10, 'text-anchor': 'end' }, `${last.period}: ${last.kwh} kWh`));
  const legend = el('p', { class: 'legend' },
    el('span', { class: 'swatch current' }), '今年 this year',
    el('span', { class: 'swatch previous' }), '去年同期 a year earlier');
  $('usage-chart').replaceChildren(chart, legend);
}

// ---- 4. subscriptions ----------------------------------------------------------------------------------------------

async function subscribe() {
  clearError('subscribe-error');
  const templates = SUBSCRIBE_KINDS.map((kind) => TEMPLATES[app.platform][kind]);
  try {
    // The phone: wx.requestSubscribeMessage / my.requestSubscribeMessage tells the platform what the user accepted.
    const path = app.platform === 'wechat' ? '/sandbox/wechat/subscriptions' : '/sandbox/alipay/subscriptions';
    const granted = await call('POST', path, { user: app.user, template_ids: templates });
    app.recipient = granted.openid || granted.user_id || granted.open_id || app.recipient;
    // The mini-program then tells us the answers.
    const preferences = await call('POST', '/api/v1/subscriptions', {
      templates: templates.map((template_id) => ({ template_id, status: 'accept' })),
    }, { auth: true });
    $('subscribe-credits').replaceChildren(...(preferences.subscriptions || []).map((s) => el('li', {
      'data-testid': 'subscription', 'data-kind': s.kind, 'data-credits': s.credits,
    }, `${KIND_NAMES[s.kind] || s.kind}: ${s.long_term ? '长期 long-term' : `${s.credits} 次 credit${s.credits === 1 ? '' : 's'}`}`)));
    refreshBehind();
  } catch (error) {
    showError('subscribe-error', error);
  }
}

// ---- 5. a bill -------------------------------------------------------------------------------------------------------

async function openBill(id) {
  clearError('pay-error');
  $('share-link').hidden = true;
  const bill = await call('GET', `/api/v1/bills/${encodeURIComponent(id)}`, undefined, { auth: true });
  app.bill = bill;
  renderBill(bill);
  show('screen-bill');
  mark('opened', bill.period);
}

function renderBill(bill) {
  $('bill-period').textContent = `${bill.period} 电费`;
  const status = $('bill-status');
  status.textContent = STATUS_NAMES[bill.status] || bill.status;
  status.className = `status status-${bill.status}`;
  status.dataset.status = bill.status;
  $('bill-amount-due').textContent = bill.amount_due_fen > 0 ? yuan(bill.amount_due_fen) : '已缴清';
  $('bill-breakdown').textContent = `本期 ${yuan(bill.total_fen)} · 已缴 ${yuan(bill.paid_fen)} · 违约金 ${yuan(bill.late_fee_fen)}`
    + (bill.days_overdue > 0 ? ` · 逾期 ${bill.days_overdue} 天` : '');
  const facts = [
    ['户号', bill.account_no], ['出账日', bill.issue_date], ['到期日', bill.due_date],
    ['示数', `${bill.meter.start} → ${bill.meter.end}${bill.meter.multiplier > 1 ? ` ×${bill.meter.multiplier}` : ''}`],
    ['用电量', `${bill.usage_kwh} kWh`],
  ];
  $('bill-facts').replaceChildren(...facts.flatMap(([name, value]) => [el('dt', { text: name }), el('dd', { text: value })]));
  const rows = [
    ...bill.tier_lines.map((l) => [`第${l.tier}档 tier ${l.tier}`, l.kwh, l.unit_price, l.amount_fen]),
    ...bill.tou_lines.map((l) => [`${BANDS[l.band] || ''} ${l.band}`, l.kwh, l.unit_price, l.amount_fen]),
    ...bill.other_charges.map((c) => [c.name, '', '', c.amount_fen]),
  ];
  $('bill-lines').replaceChildren(
    ...rows.map(([name, kwh, price, fen]) => el('tr', { 'data-testid': 'bill-line' },
      el('td', { text: name }), el('td', { text: kwh }), el('td', { text: price }), el('td', { text: yuan(fen) }))),
    el('tr', { class: 'total' }, el('td', { text: '合计 total' }), el('td', { text: bill.usage_kwh }), el('td'),
      el('td', { text: yuan(bill.total_fen) })));
  $('bill-late-fee').textContent = yuan(bill.late_fee_fen);
  $('pay-btn').hidden = !(bill.amount_due_fen > 0);
  $('bill-orders').replaceChildren(...(bill.orders || []).map((order) => el('li', {
    'data-testid': 'bill-order', 'data-order-no': order.order_no, 'data-state': order.state,
  }, el('code', { text: order.order_no }), ` ${ORDER_STATES[order.state] || order.state} · ${order.platform} · `
    + `${yuan(order.principal_fen + order.late_fee_fen)}`
    + (order.payments || []).map((p) => ` · ${p.outcome} ${yuan(p.amount_fen)}`).join(''))));
  if ((bill.orders || []).length === 0) $('bill-orders').append(el('li', { class: 'hint', text: '暂无 none yet' }));
}

async function share() {
  if (!app.bill) return;
  const answer = await call('POST', `/api/v1/bills/${encodeURIComponent(app.bill.id)}/share`, undefined, { auth: true });
  const link = $('share-link');
  link.href = answer.url;
  link.hidden = false;
}

// ---- 6. pay ------------------------------------------------------------------------------------------------------

async function pay() {
  clearError('pay-error');
  if (!app.bill) return;
  try {
    const order = await call('POST', '/api/v1/payments', { account_no: app.bill.account_no, bill_ids: [app.bill.id] },
      { auth: true });
    app.order = order;
    resetLoop(['paid', 'verified', 'settled', 'written']);
    $('cashier-brand').textContent = PLATFORMS[order.platform].pay;
    $('cashier-amount').textContent = yuan(order.amount_fen);
    $('cashier-order-no').textContent = order.order_no;
    const pay = order.pay || {};
    $('cashier-params').textContent = pay.wechat
      ? `wx.requestPayment: ${pay.wechat.package}, signType ${pay.wechat.signType}, paySign ${short(pay.wechat.paySign, 12)}`
      : pay.alipay ? `my.tradePay: tradeNO ${pay.alipay.tradeNO}` : '';
    clearError('cashier-error');
    show('screen-cashier', { remember: false });
  } catch (error) {
    showError('pay-error', error);
  }
}

// The payer confirms on the platform's sheet; the platform then notifies our backend. The page waits for our
// backend's word (GET /api/v1/payments/{order_no}), never trusting the cashier's.
async function confirmPayment() {
  const order = app.order;
  if (!order) return;
  clearError('cashier-error');
  try {
    const path = order.platform === 'wechat' ? '/sandbox/wechatpay/pay' : '/sandbox/alipay/pay';
    const paid = await call('POST', path, { out_trade_no: order.order_no });
    mark('paid', paid.transaction_id || paid.trade_no);
  } catch (error) {
    showError('cashier-error', error);
    return;
  }
  $('order-no').textContent = order.order_no;
  setOrderState('pending');
  $('order-waiting').hidden = false;
  $('order-settled').hidden = true;
  show('screen-order');
  await pollOrder(order.order_no);
}

function setOrderState(state) {
  const node = $('order-state');
  node.dataset.state = state;
  node.textContent = ORDER_STATES[state] || state;
  node.className = `order-state state-${state}`;
}

async function pollOrder(orderNo) {
  for (let attempt = 0; attempt < ORDER_POLL_LIMIT; attempt += 1) {
    if (!app.order || app.order.order_no !== orderNo) return;
    let order;
    try {
      order = await call('GET', `/api/v1/payments/${encodeURIComponent(orderNo)}`, undefined, { auth: true });
    } catch (error) {
      order = null;
    }
    if (order) {
      setOrderState(order.state);
      if (order.state !== 'pending') {
        $('order-waiting').hidden = true;
        await showSettled(order);
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, ORDER_POLL_MS));
  }
  $('order-waiting').textContent = '平台仍未确认，稍后再查 · no confirmation yet; the polling job keeps asking the platform';
}

async function showSettled(order) {
  if (order.state === 'paid') mark('settled', order.order_no);
  const payment = (order.payments || [])[0];
  const facts = [
    ['金额', yuan(order.amount_fen)], ['平台', order.platform], ['支付时间', clock(order.paid_at)],
    ['交易号', payment ? payment.transaction_id : '—'], ['结果', payment ? payment.outcome : order.state],
  ];
  $('order-facts').replaceChildren(...facts.flatMap(([name, value]) => [el('dt', { text: name }), el('dd', { text: value })]));
  $('order-settled').hidden = false;
  $('order-settled').querySelector('.ok').hidden = order.state !== 'paid';
  if (app.bill) {
    const bill = await call('GET', `/api/v1/bills/${encodeURIComponent(app.bill.id)}`, undefined, { auth: true });
    app.bill = bill;
    renderBill(bill);
    const status = $('order-bill-status');
    status.textContent = `${bill.period} ${STATUS_NAMES[bill.status] || bill.status}`;
    status.className = `status status-${bill.status}`;
    status.dataset.status = bill.status;
  }
}

function backToBills() {
  app.screens = ['screen-login', 'screen-bind'];
  openAccount(app.accountNo).catch(console.error);
}

// ---- the marketing system ------------------------------------------------------------------------------------------

async function issueBill() {
  const accountNo = app.accountNo || DEMO_ACCOUNTS[0].account_no;
  const result = $('issue-bill-result');
  result.dataset.status = '';
  try {
    const answer = await call('POST', '/sandbox/marketing/issue-bill', { account_no: accountNo });
    const bill = answer.bill || {};
    const item = ((answer.feed_reply || {}).results || [])[0] || {};
    result.dataset.status = String(answer.feed_status);
    result.dataset.result = item.result || '';
    result.textContent = `${accountNo} ${bill.period || ''} ${yuan(bill.total_fen)} → feed ${answer.feed_status} `
      + `${item.result || ''} ${item.code || ''}`;
    resetLoop(['pushed', 'opened', 'paid', 'verified', 'settled', 'written']);
    app.issuedAt = Date.now();
    mark('issued', `${accountNo} ${bill.period || ''}`);
    if (app.accountNo && !$('screen-bills').hidden) loadAccount().catch(console.error);
  } catch (error) {
    result.dataset.status = String(error.status);
    result.textContent = `${error.code}: ${error.message}`;
  }
}

// ---- behind the scenes -------------------------------------------------------------------------------------------

function renderInbox(answer) {
  const messages = answer.messages || [];
  $('inbox-scope').textContent = app.recipient
    ? `发给本用户 to this user: ${app.recipient}`
    : '最近的全部消息（订阅后只看本用户）· all recent messages; subscribe to see this user\'s';
  $('inbox-list').replaceChildren(...messages.map((message) => {
    const kind = kindOf(message.template_id);
    const body = message.text !== undefined
      ? message.text
      : Object.entries(message.data || {}).map(([key, v]) => `${key}: ${v && v.value !== undefined ? v.value : v}`).join(' · ');
    return el('li', { 'data-testid': 'inbox-message', 'data-channel': message.channel, 'data-kind': kind || '',
      'data-template-id': message.template_id },
    el('span', { class: 'when', text: clock(message.received_at_ms) }),
    el('b', { text: `${message.channel} ${kind ? KIND_NAMES[kind] : message.template_id}` }),
    el('span', { class: 'to', text: ` → ${short(message.recipient, 14)}` }),
    el('div', { class: 'body', text: body }));
  }));
  if (messages.length === 0) {
    $('inbox-list').append(el('li', { class: 'hint', text: '暂无消息。北京时间 21:00–08:00 为免打扰时段，消息会等到结束后发出 · '
      + 'none yet (during the quiet hours, 21:00–08:00 Beijing time by default, messages wait)' }));
  }
  if (app.recipient && messages.some((m) => !app.issuedAt || m.received_at_ms >= app.issuedAt - 1000)) {
    mark('pushed', messages[0].template_id);
  }
}

function renderNotifies(answer) {
  const notifies = answer.notifies || [];
  $('notify-list').replaceChildren(...notifies.map((n) => {
    const ok = n.our_status >= 200 && n.our_status < 300;
    const reply = n.error ? n.error : typeof n.our_reply === 'string' ? n.our_reply : JSON.stringify(n.our_reply);
    return el('li', { 'data-testid': 'notify-item', 'data-out-trade-no': n.out_trade_no, 'data-platform': n.platform,
      'data-our-status': n.our_status, class: ok ? '' : 'failed' },
    el('span', { class: 'when', text: clock(n.sent_at_ms) }),
    el('b', { text: `${n.platform} ${n.kind} ${yuan(n.amount_fen)}` }),
    el('div', { class: 'body', text: `${n.out_trade_no} · ${short(n.transaction_id, 14)} → ebill ${n.our_status || '—'} ${reply || '(empty)'}` }));
  }));
  if (notifies.length === 0) $('notify-list').append(el('li', { class: 'hint', text: '暂无 none yet' }));
  if (app.order && notifies.some((n) => n.out_trade_no === app.order.order_no && n.our_status >= 200 && n.our_status < 300)) {
    mark('verified', `ebill answered the ${app.order.platform} notify`);
  }
}

function renderWriteback(answer) {
  const events = [...(answer.events || [])].reverse();
  $('writeback-list').replaceChildren(...events.slice(0, 20).map((event) => el('li', {
    'data-testid': 'writeback-event', 'data-order-no': event.order_no, 'data-event-type': event.event_type,
  }, el('span', { class: 'when', text: clock(event.paid_at_ms ?? event.refunded_at_ms) }),
  el('b', { text: `${event.event_type} ${yuan(event.amount_fen)}` }),
  el('div', { class: 'body', text: `${event.account_no} · ${event.order_no} · ${(event.bills || []).map((b) => b.period).join(', ')}` }))));
  if (events.length === 0) $('writeback-list').append(el('li', { class: 'hint', text: '暂无 none yet' }));
  if (app.order && events.some((event) => event.order_no === app.order.order_no)) mark('written', app.order.order_no);
}

let refreshing = false;

async function refreshBehind() {
  if (refreshing) return;
  refreshing = true;
  try {
    const inboxPath = app.recipient
      ? `/sandbox/inbox?recipient=${encodeURIComponent(app.recipient)}&limit=20`
      : '/sandbox/inbox?limit=20';
    const [inbox, notifies, writeback] = await Promise.allSettled([
      call('GET', inboxPath, undefined, { quiet: true }),
      call('GET', '/sandbox/notifies?limit=20', undefined, { quiet: true }),
      call('GET', '/sandbox/marketing/payments', undefined, { quiet: true }),
    ]);
    if (inbox.status === 'fulfilled') renderInbox(inbox.value);
    if (notifies.status === 'fulfilled') renderNotifies(notifies.value);
    if (writeback.status === 'fulfilled') renderWriteback(writeback.value);
  } finally {
    refreshing = false;
  }
}

// ---- start -------------------------------------------------------------------------------------------------------

function start() {
  renderDemoAccounts();
  choosePlatform('wechat');
  $('platform-wechat').addEventListener('click', () => choosePlatform('wechat'));
  $('platform-alipay').addEventListener('click', () => choosePlatform('alipay'));
  $('nav-back').addEventListener('click', back);
  action('login-btn', login);
  action('bind-btn', bind);
  action('subscribe-btn', subscribe);
  action('pay-btn', pay);
  action('share-btn', share);
  action('cashier-confirm', confirmPayment);
  $('cashier-cancel').addEventListener('click', () => show('screen-bill', { remember: false }));
  $('order-back').addEventListener('click', backToBills);
  action('issue-bill-btn', issueBill);
  show('screen-login', { remember: false });
  refreshBehind();
  setInterval(refreshBehind, REFRESH_MS);
  document.body.dataset.ready = 'true';
}

document.addEventListener('DOMContentLoaded', start);
