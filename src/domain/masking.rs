//! Masking of personal data shown to anyone but the account holder's own records: 张三 → 张*, 13812341234 →
//! 138****1234, an address cut after its first characters, a platform id (openid, Alipay id) cut to its ends.

/// Keeps the first character of a name: 张三 → 张*, 欧阳娜娜 → 欧***, Li → L*.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
        None => String::new(),
    }
}

/// Keeps the first three and last four digits of a mobile number; other numbers keep only their last four.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.trim().chars().collect();
    if chars.len() == 11 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[7..].iter().collect();
        return format!("{head}****{tail}");
    }
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{}{tail}", "*".repeat(chars.len() - 4))
}

/// Keeps the first six characters of an address (city and district, as Chinese addresses begin) and hides the rest.
pub fn mask_address(address: &str) -> String {
    let chars: Vec<char> = address.trim().chars().collect();
    if chars.len() <= 6 {
        return chars.iter().take(2).collect::<String>() + "****";
    }
    chars[..6].iter().collect::<String>() + "****"
}

/// Keeps the first four and last four characters of a platform id (WeChat openid or unionid, Alipay user_id or
/// open_id), enough to tell two ids apart on the phone and too little to use one; a short id keeps only its first
/// character.
pub fn mask_platform_id(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    if chars.len() <= 8 {
        return chars.first().map(|first| format!("{first}****")).unwrap_or_default();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_first_character() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("王"), "王*");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn mobiles_keep_head_and_tail() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("021-62881234"), "********1234");
    }

    #[test]
    fn addresses_keep_their_district() {
        assert_eq!(mask_address("上海市浦东新区世纪大道100号1201室"), "上海市浦东新****");
        assert_eq!(mask_address("静安区"), "静安****");
    }

    #[test]
    fn platform_ids_keep_their_ends() {
        assert_eq!(mask_platform_id("o6_bmjrPTlm6_2sgVt7hMZOPfL2M"), "o6_b****fL2M");
        assert_eq!(mask_platform_id("2088102122524333"), "2088****4333");
        assert_eq!(mask_platform_id("abcdefgh"), "a****");
        assert_eq!(mask_platform_id(""), "");
    }
}
