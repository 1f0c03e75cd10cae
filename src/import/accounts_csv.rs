//! The accounts CSV: `account_no,holder_name,address,phone,account_type,supply_unit` (UTF-8, a header line first;
//! `address` and `supply_unit` may be empty or absent). See `samples/accounts.csv`.

use super::{Columns, CsvFormat};
use crate::domain::account::{Account, AccountInput};
use crate::domain::feed::Rejection;

pub(crate) const FORMAT: CsvFormat<Account> =
    (parse, &["account_no", "holder_name", "phone", "account_type"], &["address", "supply_unit"]);

fn parse(columns: &Columns, record: &csv::StringRecord) -> Result<Account, Rejection> {
    AccountInput {
        account_no: columns.get(record, 0).to_string(),
        holder_name: columns.get(record, 1).to_string(),
        phone: columns.get(record, 2).to_string(),
        account_type: columns.get(record, 3).to_string(),
        address: columns.get(record, 4).to_string(),
        supply_unit: columns.get(record, 5).to_string(),
    }
    .validate()
}
