//! What the simulated Alipay remembers of trades, and the rules of their life: created waiting for the buyer, closed
//! (by a call, or by `time_expire` passing unpaid), paid, refunded in part or in full. A bounded map: beyond
//! [`MAX_TRADES`] the oldest trade is forgotten. Pure (no HTTP, no keys): the gateway methods and the pay route
//! read and change it through [`TradeBook`].

use crate::sandbox::platforms::lock;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Mutex;

/// Trades remembered at once.
pub const MAX_TRADES: usize = 10_000;
/// Every sandbox `trade_no` starts like an Alipay one of 4 December 2026 (date, then `22001`); 15 digits follow.
pub const TRADE_NO_PREFIX: &str = "2026120422001";

/// Who pays, as the trade was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Buyer {
    UserId(String),
    OpenId(String),
}

/// What a create call asks for; a repeat must ask for the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeTerms {
    pub amount_fen: i64,
    pub subject: String,
    pub buyer: Buyer,
    pub expire_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    WaitBuyerPay,
    /// Closed before any payment.
    Closed,
    /// Paid at `paid_ms`; `notify_amount_fen` is the `total_amount` its notifies carry (the trade's own unless a
    /// test asked for another).
    Paid {
        paid_ms: i64,
        notify_amount_fen: i64,
    },
}

/// A trade as remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    pub trade_no: String,
    pub out_trade_no: String,
    pub terms: TradeTerms,
    pub notify_url: String,
    pub created_ms: i64,
    pub stage: Stage,
    /// The sum of the refunds so far.
    pub refunded_fen: i64,
    /// Refunds by `out_request_no`, with their amounts.
    refunds: HashMap<String, i64>,
    /// Insertion order, for forgetting the oldest.
    seq: u64,
}

impl Trade {
    /// The wire `trade_status`: a paid trade refunded in full is `TRADE_CLOSED`, like on Alipay.
    pub fn trade_status(&self) -> &'static str {
        match self.stage {
            Stage::WaitBuyerPay => "WAIT_BUYER_PAY",
            Stage::Closed => "TRADE_CLOSED",
            Stage::Paid { .. } if self.refunded_fen >= self.terms.amount_fen => "TRADE_CLOSED",
            Stage::Paid { .. } => "TRADE_SUCCESS",
        }
    }

    /// `time_expire` passed unpaid: the trade is closed from then on.
    fn expire(&mut self, now_ms: i64) {
        if self.stage == Stage::WaitBuyerPay && now_ms >= self.terms.expire_ms {
            self.stage = Stage::Closed;
        }
    }
}

/// Which trade a call names: `trade_no` wins when both are given, as on Alipay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeKey {
    TradeNo(String),
    OutTradeNo(String),
}

/// Why a trade operation was refused; each maps to one `ACQ.*` sub_code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeRefusal {
    NotExist,
    /// Same `out_trade_no` (or `out_request_no`), other content.
    ContextInconsistent,
    /// A create for a trade already paid.
    HasSuccess,
    /// A create for (or a payment of) a trade closed unpaid.
    HasClose,
    /// Close of a paid trade, refund of an unpaid one.
    StatusError,
    /// A refund beyond what is left of the trade.
    RefundExceeds,
    /// A refund without `out_request_no` (of the whole trade) for another amount than the trade's.
    RefundNotWhole,
    /// Another amount under an `out_request_no` already refunded.
    DiscordantRepeat,
    /// Payment of a trade already paid.
    AlreadyPaid,
}

/// A refund as answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundDone {
    pub trade: Trade,
    pub fund_change: bool,
    /// This call's amount: 0 for a repeat.
    pub send_back_fen: i64,
}

#[derive(Default)]
struct Book {
    by_out_trade_no: HashMap<String, Trade>,
    out_trade_no_of: HashMap<String, String>,
    next_seq: u64,
}

impl Book {
    fn find(&mut self, key: &TradeKey, now_ms: i64) -> Result<&mut Trade, TradeRefusal> {
        let out_trade_no = match key {
            TradeKey::OutTradeNo(no) => no,
            TradeKey::TradeNo(no) => self.out_trade_no_of.get(no).ok_or(TradeRefusal::NotExist)?,
        };
        let trade = self.by_out_trade_no.get_mut(out_trade_no).ok_or(TradeRefusal::NotExist)?;
        trade.expire(now_ms);
        Ok(trade)
    }

    fn new_trade_no(&self) -> String {
        let mut rng = rand::thread_rng();
        loop {
            let trade_no = format!("{TRADE_NO_PREFIX}{:015}", rng.gen_range(0..1_000_000_000_000_000u64));
            if !self.out_trade_no_of.contains_key(&trade_no) {
                return trade_no;
            }
        }
    }

    fn forget_oldest(&mut self) {
        let oldest = self.by_out_trade_no.values().min_by_key(|trade| trade.seq).map(|t| t.out_trade_no.clone());
        if let Some(trade) = oldest.and_then(|no| self.by_out_trade_no.remove(&no)) {
            self.out_trade_no_of.remove(&trade.trade_no);
        }
    }
}

/// The trades of the simulated Alipay.
#[derive(Default)]
pub struct TradeBook {
    book: Mutex<Book>,
}

impl TradeBook {
    /// `alipay.trade.create`: a new trade, or the same `trade_no` for a repeat of a waiting one.
    pub fn create(
        &self,
        out_trade_no: &str,
        terms: TradeTerms,
        notify_url: &str,
        now_ms: i64,
    ) -> Result<String, TradeRefusal> {
        let mut book = lock(&self.book);
        if let Ok(trade) = book.find(&TradeKey::OutTradeNo(out_trade_no.to_owned()), now_ms) {
            return match trade.stage {
                _ if trade.terms != terms => Err(TradeRefusal::ContextInconsistent),
                Stage::WaitBuyerPay => Ok(trade.trade_no.clone()),
                Stage::Closed => Err(TradeRefusal::HasClose),
                Stage::Paid { .. } => Err(TradeRefusal::HasSuccess),
            };
        }
        if book.by_out_trade_no.len() >= MAX_TRADES {
            book.forget_oldest();
        }
        let trade_no = book.new_trade_no();
        let mut trade = Trade {
            trade_no: trade_no.clone(),
            out_trade_no: out_trade_no.to_owned(),
            terms,
            notify_url: notify_url.to_owned(),
            created_ms: now_ms,
            stage: Stage::WaitBuyerPay,
            refunded_fen: 0,
            refunds: HashMap::new(),
            seq: book.next_seq,
        };
        trade.expire(now_ms);
        book.next_seq += 1;
        book.out_trade_no_of.insert(trade_no.clone(), out_trade_no.to_owned());
        book.by_out_trade_no.insert(out_trade_no.to_owned(), trade);
        Ok(trade_no)
    }

    /// The trade as it stands now.
    pub fn get(&self, key: &TradeKey, now_ms: i64) -> Result<Trade, TradeRefusal> {
        lock(&self.book).find(key, now_ms).map(|trade| trade.clone())
    }

    /// `alipay.trade.close`: an unpaid trade is (or stays) closed; a paid one cannot be.
    pub fn close(&self, key: &TradeKey, now_ms: i64) -> Result<Trade, TradeRefusal> {
        let mut book = lock(&self.book);
        let trade = book.find(key, now_ms)?;
        match trade.stage {
            Stage::Paid { .. } => Err(TradeRefusal::StatusError),
            Stage::WaitBuyerPay | Stage::Closed => {
                trade.stage = Stage::Closed;
                Ok(trade.clone())
            }
        }
    }

    /// The buyer pays a waiting trade; its notifies will carry `notify_amount_fen` (default: the trade's amount).
    pub fn pay(&self, key: &TradeKey, notify_amount_fen: Option<i64>, now_ms: i64) -> Result<Trade, TradeRefusal> {
        let mut book = lock(&self.book);
        let trade = book.find(key, now_ms)?;
        match trade.stage {
            Stage::Paid { .. } => Err(TradeRefusal::AlreadyPaid),
            Stage::Closed => Err(TradeRefusal::HasClose),
            Stage::WaitBuyerPay => {
                let notify_amount_fen = notify_amount_fen.unwrap_or(trade.terms.amount_fen);
                trade.stage = Stage::Paid { paid_ms: now_ms, notify_amount_fen };
                Ok(trade.clone())
            }
        }
    }

    /// `alipay.trade.refund`: paid trades only, at most what is left, once per `out_request_no` (partial and
    /// repeated refunds each have their own). Without one, the refund is of the whole trade, keyed on the trade.
    pub fn refund(
        &self,
        key: &TradeKey,
        out_request_no: Option<&str>,
        amount_fen: i64,
        now_ms: i64,
    ) -> Result<RefundDone, TradeRefusal> {
        let mut book = lock(&self.book);
        let trade = book.find(key, now_ms)?;
        if !matches!(trade.stage, Stage::Paid { .. }) {
            return Err(TradeRefusal::StatusError);
        }
        let out_request_no = match out_request_no {
            Some(no) => no.to_owned(),
            None if amount_fen != trade.terms.amount_fen => return Err(TradeRefusal::RefundNotWhole),
            None => trade.out_trade_no.clone(),
        };
        if let Some(&earlier) = trade.refunds.get(&out_request_no) {
            if earlier != amount_fen {
                return Err(TradeRefusal::DiscordantRepeat);
            }
            return Ok(RefundDone { trade: trade.clone(), fund_change: false, send_back_fen: 0 });
        }
        let left = trade.terms.amount_fen - trade.refunded_fen;
        if amount_fen <= 0 || amount_fen > left {
            return Err(TradeRefusal::RefundExceeds);
        }
        trade.refunded_fen += amount_fen;
        trade.refunds.insert(out_request_no, amount_fen);
        Ok(RefundDone { trade: trade.clone(), fund_change: true, send_back_fen: amount_fen })
    }

    /// `alipay.trade.fastpay.refund.query`: the trade, and the amount refunded under `out_request_no` when it was.
    pub fn refund_of(
        &self,
        key: &TradeKey,
        out_request_no: &str,
        now_ms: i64,
    ) -> Result<(Trade, Option<i64>), TradeRefusal> {
        let mut book = lock(&self.book);
        let trade = book.find(key, now_ms)?;
        let refunded = trade.refunds.get(out_request_no).copied();
        Ok((trade.clone(), refunded))
    }

    /// How many trades are remembered.
    pub fn count(&self) -> usize {
        lock(&self.book).by_out_trade_no.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;
    const EXPIRE: i64 = NOW + 15 * 60 * 1000;

    fn terms(amount_fen: i64) -> TradeTerms {
        TradeTerms {
            amount_fen,
            subject: "电费".into(),
            buyer: Buyer::UserId("2088000000000001".into()),
            expire_ms: EXPIRE,
        }
    }

    fn out(no: &str) -> TradeKey {
        TradeKey::OutTradeNo(no.into())
    }

    fn book_with(no: &str, amount_fen: i64) -> (TradeBook, String) {
        let book = TradeBook::default();
        let trade_no = book.create(no, terms(amount_fen), "http://x/notify", NOW).unwrap();
        (book, trade_no)
    }

    #[test]
    fn trade_numbers_look_like_alipays() {
        let (_, trade_no) = book_with("EB1", 100);
        assert_eq!(trade_no.len(), 28);
        assert!(trade_no.starts_with(TRADE_NO_PREFIX) && trade_no.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn a_repeat_with_the_same_terms_gets_the_same_trade_and_other_terms_are_refused() {
        let (book, trade_no) = book_with("EB1", 100);
        assert_eq!(book.create("EB1", terms(100), "http://x/notify", NOW + 1), Ok(trade_no.clone()));
        assert_eq!(book.create("EB1", terms(101), "http://x/notify", NOW), Err(TradeRefusal::ContextInconsistent));
        assert_eq!(book.get(&TradeKey::TradeNo(trade_no), NOW).unwrap().out_trade_no, "EB1");
        assert_eq!(book.count(), 1);
    }

    #[test]
    fn an_unpaid_trade_closes_when_it_expires() {
        let (book, _) = book_with("EB1", 100);
        assert_eq!(book.get(&out("EB1"), EXPIRE - 1).unwrap().trade_status(), "WAIT_BUYER_PAY");
        assert_eq!(book.get(&out("EB1"), EXPIRE).unwrap().trade_status(), "TRADE_CLOSED");
        assert_eq!(book.pay(&out("EB1"), None, EXPIRE), Err(TradeRefusal::HasClose));
        assert_eq!(book.create("EB1", terms(100), "http://x/notify", EXPIRE), Err(TradeRefusal::HasClose));
    }

    #[test]
    fn close_takes_unpaid_trades_only() {
        let (book, _) = book_with("EB1", 100);
        assert_eq!(book.close(&out("EB1"), NOW).unwrap().trade_status(), "TRADE_CLOSED");
        assert_eq!(book.close(&out("EB1"), NOW).unwrap().trade_status(), "TRADE_CLOSED");
        let (book, _) = book_with("EB2", 100);
        book.pay(&out("EB2"), None, NOW).unwrap();
        assert_eq!(book.close(&out("EB2"), NOW), Err(TradeRefusal::StatusError));
        assert_eq!(book.close(&out("EB3"), NOW), Err(TradeRefusal::NotExist));
    }

    #[test]
    fn a_trade_is_paid_once() {
        let (book, _) = book_with("EB1", 100);
        let paid = book.pay(&out("EB1"), Some(1), NOW + 5).unwrap();
        assert_eq!(paid.stage, Stage::Paid { paid_ms: NOW + 5, notify_amount_fen: 1 });
        assert_eq!(paid.trade_status(), "TRADE_SUCCESS");
        assert_eq!(book.pay(&out("EB1"), None, NOW), Err(TradeRefusal::AlreadyPaid));
        assert_eq!(book.create("EB1", terms(100), "http://x/notify", NOW), Err(TradeRefusal::HasSuccess));
        // Paid trades do not expire.
        assert_eq!(book.get(&out("EB1"), EXPIRE + 1).unwrap().trade_status(), "TRADE_SUCCESS");
    }

    #[test]
    fn refunds_are_bounded_and_idempotent_per_request_number() {
        let (book, _) = book_with("EB1", 100);
        assert_eq!(book.refund(&out("EB1"), Some("R1"), 10, NOW), Err(TradeRefusal::StatusError));
        book.pay(&out("EB1"), None, NOW).unwrap();
        let first = book.refund(&out("EB1"), Some("R1"), 60, NOW).unwrap();
        assert!(first.fund_change);
        assert_eq!((first.trade.refunded_fen, first.send_back_fen), (60, 60));
        let repeat = book.refund(&out("EB1"), Some("R1"), 60, NOW).unwrap();
        assert!(!repeat.fund_change);
        assert_eq!((repeat.trade.refunded_fen, repeat.send_back_fen), (60, 0));
        assert_eq!(book.refund(&out("EB1"), Some("R1"), 50, NOW), Err(TradeRefusal::DiscordantRepeat));
        assert_eq!(book.refund(&out("EB1"), Some("R2"), 41, NOW), Err(TradeRefusal::RefundExceeds));
        assert_eq!(book.refund(&out("EB1"), Some("R2"), 0, NOW), Err(TradeRefusal::RefundExceeds));
        let rest = book.refund(&out("EB1"), Some("R2"), 40, NOW).unwrap();
        assert_eq!(rest.trade.trade_status(), "TRADE_CLOSED", "refunded in full");
        assert_eq!(book.close(&out("EB1"), NOW), Err(TradeRefusal::StatusError));
    }

    #[test]
    fn a_refund_without_a_request_number_is_of_the_whole_trade() {
        let (book, _) = book_with("EB1", 100);
        book.pay(&out("EB1"), None, NOW).unwrap();
        assert_eq!(book.refund(&out("EB1"), None, 60, NOW), Err(TradeRefusal::RefundNotWhole));
        let whole = book.refund(&out("EB1"), None, 100, NOW).unwrap();
        assert_eq!((whole.fund_change, whole.trade.trade_status()), (true, "TRADE_CLOSED"));
        let repeat = book.refund(&out("EB1"), None, 100, NOW).unwrap();
        assert_eq!((repeat.fund_change, repeat.send_back_fen), (false, 0));
        assert_eq!(book.refund(&out("EB1"), Some("R1"), 1, NOW), Err(TradeRefusal::RefundExceeds));
    }

    #[test]
    fn the_oldest_trade_is_forgotten_beyond_the_bound() {
        let book = TradeBook::default();
        for i in 0..MAX_TRADES {
            book.create(&format!("EB{i}"), terms(100), "http://x/notify", NOW).unwrap();
        }
        let first_trade_no = book.get(&out("EB0"), NOW).unwrap().trade_no;
        book.create("EBX", terms(100), "http://x/notify", NOW).unwrap();
        assert_eq!(book.count(), MAX_TRADES);
        assert_eq!(book.get(&out("EB0"), NOW), Err(TradeRefusal::NotExist));
        assert_eq!(book.get(&TradeKey::TradeNo(first_trade_no), NOW), Err(TradeRefusal::NotExist));
        assert!(book.get(&out("EB1"), NOW).is_ok());
    }
}
