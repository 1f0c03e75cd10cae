//! Customers as the platforms name them.

use serde::{Deserialize, Serialize};

/// The super-app a customer uses the mini-program in; it decides the login, the payment channel and the push channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Wechat,
    Alipay,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Wechat => "wechat",
            Platform::Alipay => "alipay",
        }
    }

    pub fn parse(text: &str) -> Option<Platform> {
        match text {
            "wechat" => Some(Platform::Wechat),
            "alipay" => Some(Platform::Alipay),
            _ => None,
        }
    }
}
