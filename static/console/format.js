// Formats for what the console shows and reads: money in fen as yuan, epoch milliseconds as Beijing time, yuan typed
// by staff as fen, and the small helpers for missing values and named codes. No DOM, no calls.

const BEIJING_OFFSET_MS = 8 * 3600 * 1000;

// A part of a path or query, encoded.
export function enc(part) {
  return encodeURIComponent(String(part));
}

// Integer fen as yuan, by integer arithmetic only: 12345 → ¥123.45, -5 → -¥0.05.
export function yuan(fen) {
  if (fen === null || fen === undefined || fen === '') return '—';
  const n = Number(fen);
  if (!Number.isSafeInteger(n)) return String(fen);
  const abs = Math.abs(n);
  return `${n < 0 ? '-' : ''}¥${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

// Fen as what the refund form shows in its input: 12345 → "123.45".
export function yuanInput(fen) {
  const n = Math.max(0, Number(fen) || 0);
  return `${Math.trunc(n / 100)}.${String(n % 100).padStart(2, '0')}`;
}

// Yuan typed by staff ("12", "12.3", "12.34", "¥1,234.50") as integer fen, by string parsing; null if not a positive
// amount with at most two decimals.
export function parseYuan(text) {
  const s = String(text).trim().replace(/^¥/, '').replace(/,/g, '');
  const match = /^(\d{1,10})(?:\.(\d{0,2}))?$/.exec(s);
  if (!match) return null;
  const fen = Number(match[1]) * 100 + Number((match[2] || '').padEnd(2, '0'));
  return Number.isSafeInteger(fen) && fen > 0 ? fen : null;
}

function pad(n, width = 2) {
  return String(n).padStart(width, '0');
}

// Epoch milliseconds as Beijing time (UTC+8, no daylight saving), whatever the browser's zone: YYYY-MM-DD HH:mm:ss.
export function beijing(ms) {
  if (ms === null || ms === undefined || ms === '') return '—';
  const n = Number(ms);
  if (!Number.isFinite(n)) return String(ms);
  const d = new Date(n + BEIJING_OFFSET_MS);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} `
    + `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

// A Beijing date (YYYY-MM-DD, as a date input gives it) as the epoch ms of its first instant, or with `endOfDay` of
// the next day's first instant: the audit API's `to` is exclusive, so the "to" day is included whole.
export function beijingDayStart(date, endOfDay) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date || '');
  if (!match) return null;
  const day = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + (endOfDay ? 1 : 0));
  return day - BEIJING_OFFSET_MS;
}

export function dash(value) {
  return value === null || value === undefined || value === '' ? '—' : String(value);
}

export function named(names, value) {
  return value in names ? names[value] : dash(value);
}

export function yesNo(value) {
  return value ? '是' : '否';
}

export function chars(text) {
  return [...text].length;
}
