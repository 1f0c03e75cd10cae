// Staff management, for admins: roles, disabling, resetting passwords and unlocking, and adding staff. A generated
// password is shown once on the page and kept nowhere.

import { api } from './api.js';
import { confirmAction } from './dialog.js';
import { el } from './dom.js';
import { flash } from './flash.js';
import { beijing, dash, enc, named } from './format.js';
import { ROLE_NAMES } from './labels.js';
import { reload, startView } from './view.js';
import { actionButton, badge, dataTable, section } from './widgets.js';

const ROLES = ['viewer', 'operator', 'admin'];

export async function showStaff(notice) {
  const view = startView('staff');
  const answer = await api('GET', '/staff');
  if (!view.current()) return;
  const now = Date.now();
  const staff = (answer && answer.staff) || [];
  view.done(
    el('div', { class: 'page-head' }, el('h1', {}, '员工 ', el('span', { class: 'hint', text: 'staff' }))),
    notice || null,
    dataTable({
      id: 'staff-list',
      rows: staff,
      rowAttrs: (s) => ({ 'data-name': s.name, 'data-role': s.role, 'data-disabled': String(!!s.disabled) }),
      columns: [
        { label: '用户名', cell: (s) => s.name },
        { label: '角色', cell: (s) => roleEditor(s) },
        { label: '状态', cell: (s) => (s.disabled ? badge('已停用 disabled', 'masked') : badge('启用 active', 'unmasked')) },
        { label: '锁定至', cell: (s) => (s.locked_until && Number(s.locked_until) > now ? beijing(s.locked_until) : '—'), cls: 'time' },
        { label: '最近登录', cell: (s) => beijing(s.last_login_at), cls: 'time' },
        { label: '创建', cell: (s) => beijing(s.created_at), cls: 'time' },
        { label: '操作', cell: (s) => staffActions(s, now), cls: 'act' },
      ],
    }),
    section('添加员工', 'add a member of staff', addStaffForm()),
  );
}

function roleSelect(id, value) {
  const select = el('select', { id }, ROLES.map((role) => el('option', { value: role, text: ROLE_NAMES[role] })));
  select.value = value || 'viewer';
  return select;
}

function roleEditor(member) {
  const select = roleSelect(`role-${member.name}`, member.role);
  select.classList.add('role-select');
  const save = actionButton('改 Change', 'change-role', () => {
    if (select.value === member.role) return;
    askUpdateStaff(member, { role: select.value },
      `把 ${member.name} 的角色从 ${named(ROLE_NAMES, member.role)} 改为 ${named(ROLE_NAMES, select.value)}`);
  });
  return el('span', { class: 'inline' }, select, save);
}

function staffActions(member, now) {
  const buttons = el('span', { class: 'inline' });
  if (member.disabled) {
    buttons.append(actionButton('启用 Enable', 'enable', () => askUpdateStaff(member, { disabled: false },
      `重新启用员工 ${member.name}`)));
  } else {
    buttons.append(actionButton('停用 Disable', 'disable danger', () => askUpdateStaff(member, { disabled: true },
      `停用员工 ${member.name}：不能再登录，已登录的会话立即失效`)));
  }
  buttons.append(actionButton('重置密码 Reset password', 'reset-password', () => askUpdateStaff(member,
    { reset_password: true }, `为 ${member.name} 生成新密码（旧密码立即失效，并解除锁定）；新密码只显示一次`)));
  if (member.locked_until && Number(member.locked_until) > now) {
    buttons.append(actionButton('解锁 Unlock', 'unlock', () => askUpdateStaff(member, { unlock: true },
      `解除 ${member.name} 的登录锁定（锁定至 ${beijing(member.locked_until)}）`)));
  }
  return buttons;
}

function askUpdateStaff(member, change, what) {
  confirmAction({
    title: '修改员工 Change staff',
    what,
    run: async (reason) => {
      const answer = await api('PATCH', `/staff/${enc(member.name)}`, { ...change, reason });
      flash(`已修改 ${member.name} updated`);
      if (answer && answer.password) await showStaff(passwordNotice(`${member.name} 的新密码`, answer.password));
      else reload();
    },
  });
}

// A generated password, shown once on this page only: it is in no storage and not in the audit log.
function passwordNotice(whose, password) {
  return el('div', { id: 'new-password-box', class: 'notice' },
    el('p', { text: `${whose}只显示这一次，请当面或经安全渠道交给本人 · shown once:` }),
    el('p', {}, el('code', { id: 'new-password', class: 'secret', text: dash(password) })));
}

function addStaffForm() {
  const name = el('input', { id: 'new-staff-name', type: 'text', maxlength: 32, autocomplete: 'off', required: true,
    pattern: '[A-Za-z][A-Za-z0-9._\\-]{1,31}', title: '2–32 个字符：字母、数字、. _ -，以字母开头' });
  const role = roleSelect('new-staff-role', 'viewer');
  const form = el('form', { id: 'new-staff', class: 'filters' },
    el('label', { class: 'field' }, '用户名 name', name),
    el('label', { class: 'field' }, '角色 role', role),
    el('div', { class: 'buttons' }, el('button', { type: 'submit', id: 'new-staff-submit', class: 'primary', text: '添加… Add' })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const newName = name.value.trim();
    if (!newName) return;
    confirmAction({
      title: '添加员工 Add staff',
      what: `添加员工 ${newName}，角色 ${named(ROLE_NAMES, role.value)}；初始密码由系统生成，只显示一次。`,
      ok: '添加 Add',
      run: async (reason) => {
        const answer = await api('POST', '/staff', { name: newName, role: role.value, reason });
        const created = (answer && answer.staff) || {};
        flash(`已添加员工 ${dash(created.name)}`);
        await showStaff(passwordNotice(`${dash(created.name)}（${named(ROLE_NAMES, created.role)}）的初始密码`,
          answer && answer.password));
      },
    });
  });
  return form;
}
