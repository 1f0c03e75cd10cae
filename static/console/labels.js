// What the console calls the codes the API answers with, shared by several pages (a page's own lists stay in it).

export const ROLE_NAMES = { viewer: '只读 viewer', operator: '操作员 operator', admin: '管理员 admin' };
export const PLATFORM_NAMES = { wechat: '微信 WeChat', alipay: '支付宝 Alipay', wechatpay: '微信支付 WeChat Pay' };
export const ORDER_STATES = {
  pending: '待支付 pending', paid: '已支付 paid', flagged: '待核查 flagged', closed: '已关闭 closed',
  expired: '已过期 expired', failed: '失败 failed', refunded: '已退款 refunded',
};
export const MESSAGE_KINDS = {
  new_bill: '出账 new bill', due_soon: '即将到期 due soon', due_today: '今日到期 due today', overdue: '逾期 overdue',
  payment_received: '缴费成功 paid', refund_done: '退款 refund',
};
