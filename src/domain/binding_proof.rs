//! What proves that a customer may bind an electricity account: the holder's name, and either the last four digits
//! of the account's registered phone or a phone number the platform verified for the customer that equals it.
//! Every comparison runs in constant time, and an unknown account is compared against a decoy, so that neither the
//! answer nor its timing tells whether an account exists.

use subtle::ConstantTimeEq;

/// The proof a customer offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The last four digits of the registered phone.
    PhoneLast4(String),
    /// The phone number the platform verified for this customer (`POST /api/v1/me/phone`).
    VerifiedPhone,
}

impl Proof {
    /// `"1234"` (four digits) or `"verified_phone"`.
    pub fn parse(text: &str) -> Option<Proof> {
        let text = text.trim();
        if text == "verified_phone" {
            return Some(Proof::VerifiedPhone);
        }
        (text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit())).then(|| Proof::PhoneLast4(text.to_string()))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Proof::PhoneLast4(_) => "phone_last4",
            Proof::VerifiedPhone => "verified_phone",
        }
    }
}

/// The account's side of the check; `None` when the account does not exist.
pub struct Holder<'a> {
    pub name: &'a str,
    pub phone: &'a str,
}

const DECOY: Holder<'static> = Holder { name: "\u{0}decoy-holder", phone: "\u{0}\u{0}\u{0}\u{0}\u{0}decoy" };

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Whether `proof` and `name` prove the holding of `holder`'s account. `verified_phone` is the customer's.
pub fn proves(holder: Option<&Holder<'_>>, name: &str, proof: &Proof, verified_phone: Option<&str>) -> bool {
    let exists = holder.is_some();
    let holder = holder.unwrap_or(&DECOY);
    let name_ok = ct_eq(holder.name.trim(), name.trim());
    let registered = digits(holder.phone);
    let proof_ok = match proof {
        Proof::PhoneLast4(last4) => {
            let tail = &registered[registered.len().saturating_sub(4)..];
            ct_eq(tail, last4) & (registered.len() >= 4)
        }
        Proof::VerifiedPhone => {
            let verified = digits(verified_phone.unwrap_or(""));
            // A verified number may carry the country code 86.
            let verified = verified.strip_prefix("86").filter(|v| v.len() == 11).unwrap_or(&verified);
            ct_eq(verified, &registered) & !verified.is_empty()
        }
    };
    exists & name_ok & proof_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLDER: Holder<'static> = Holder { name: "张三", phone: "13812341234" };

    #[test]
    fn the_right_name_and_last_four_digits_prove_it() {
        assert!(proves(Some(&HOLDER), " 张三 ", &Proof::parse("1234").unwrap(), None));
    }

    #[test]
    fn a_wrong_name_or_digits_do_not() {
        assert!(!proves(Some(&HOLDER), "张四", &Proof::parse("1234").unwrap(), None));
        assert!(!proves(Some(&HOLDER), "张三", &Proof::parse("1235").unwrap(), None));
    }

    #[test]
    fn an_unknown_account_never_proves() {
        assert!(!proves(None, "\u{0}decoy-holder", &Proof::parse("0000").unwrap(), None));
    }

    #[test]
    fn a_verified_phone_equal_to_the_registered_one_proves_it() {
        assert!(proves(Some(&HOLDER), "张三", &Proof::VerifiedPhone, Some("13812341234")));
        assert!(proves(Some(&HOLDER), "张三", &Proof::VerifiedPhone, Some("+86 138 1234 1234")));
        assert!(!proves(Some(&HOLDER), "张三", &Proof::VerifiedPhone, Some("13900000000")));
        assert!(!proves(Some(&HOLDER), "张三", &Proof::VerifiedPhone, None));
    }

    #[test]
    fn landlines_compare_by_their_digits() {
        let shop = Holder { name: "王五", phone: "021-62881234" };
        assert!(proves(Some(&shop), "王五", &Proof::parse("1234").unwrap(), None));
    }

    #[test]
    fn proofs_parse_strictly() {
        assert_eq!(Proof::parse("12a4"), None);
        assert_eq!(Proof::parse("12345"), None);
        assert_eq!(Proof::parse("verified_phone"), Some(Proof::VerifiedPhone));
    }
}
