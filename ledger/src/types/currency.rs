//! `Currency`: coin amounts in indivisible base units, with checked
//! arithmetic and decimal text at a network's precision (1 coin =
//! 10^precision base units).

use std::fmt;

use thiserror::Error;

/// The largest precision for which 10^precision fits a `u128`.
pub const MAX_PRECISION: u32 = 38;

/// An amount of coins in base units.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode, bincode::Decode,
)]
pub struct Currency(pub u128);

/// Why a decimal amount could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CurrencyError {
    #[error("amount is empty")]
    Empty,
    #[error("amount {text:?} contains {found:?}; only digits and one '.' are allowed")]
    InvalidCharacter { text: String, found: char },
    #[error("amount {text:?} has {digits} decimals but the precision is {precision}")]
    TooManyDecimals {
        text: String,
        digits: usize,
        precision: u32,
    },
    #[error("amount {text:?} does not fit in 128 bits of base units")]
    Overflow { text: String },
    #[error("precision {0} is larger than the maximum of {MAX_PRECISION}")]
    PrecisionTooLarge(u32),
}

impl Currency {
    pub const ZERO: Currency = Currency(0);

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Currency) -> Option<Currency> {
        self.0.checked_add(other.0).map(Currency)
    }

    pub fn checked_sub(self, other: Currency) -> Option<Currency> {
        self.0.checked_sub(other.0).map(Currency)
    }

    pub fn checked_mul(self, factor: u128) -> Option<Currency> {
        self.0.checked_mul(factor).map(Currency)
    }

    /// The sum of many amounts, or `None` on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Currency>>(amounts: I) -> Option<Currency> {
        amounts
            .into_iter()
            .try_fold(Currency::ZERO, Currency::checked_add)
    }

    /// `coins` whole coins at `precision`, or `None` on overflow.
    pub fn from_coins(coins: u128, precision: u32) -> Option<Currency> {
        10u128
            .checked_pow(precision)
            .and_then(|unit| coins.checked_mul(unit))
            .map(Currency)
    }

    /// Reads a decimal amount such as `"12.5"` with `precision` decimals per
    /// coin. No sign, no exponent, no thousands separators; at most
    /// `precision` digits after the point.
    pub fn parse_decimal(text: &str, precision: u32) -> Result<Currency, CurrencyError> {
        if precision > MAX_PRECISION {
            return Err(CurrencyError::PrecisionTooLarge(precision));
        }
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (text, ""),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(CurrencyError::Empty);
        }
        if let Some(found) = whole
            .chars()
            .chain(fraction.chars())
            .find(|c| !c.is_ascii_digit())
        {
            return Err(CurrencyError::InvalidCharacter {
                text: text.to_owned(),
                found,
            });
        }
        if fraction.len() > precision as usize {
            return Err(CurrencyError::TooManyDecimals {
                text: text.to_owned(),
                digits: fraction.len(),
                precision,
            });
        }
        let overflow = || CurrencyError::Overflow {
            text: text.to_owned(),
        };
        let mut units: u128 = 0;
        let padding = precision as usize - fraction.len();
        let digits = whole
            .bytes()
            .chain(fraction.bytes())
            .chain(std::iter::repeat_n(b'0', padding));
        for digit in digits {
            units = units
                .checked_mul(10)
                .and_then(|units| units.checked_add(u128::from(digit - b'0')))
                .ok_or_else(overflow)?;
        }
        Ok(Currency(units))
    }

    /// A display adapter printing this amount as a decimal number of coins
    /// with trailing zeros removed (`12.5`, `3`, `0.000000001`).
    pub fn display_decimal(self, precision: u32) -> DecimalCurrency {
        DecimalCurrency {
            amount: self,
            precision,
        }
    }
}

/// See [`Currency::display_decimal`].
#[derive(Debug, Clone, Copy)]
pub struct DecimalCurrency {
    amount: Currency,
    precision: u32,
}

impl fmt::Display for DecimalCurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.amount.0.to_string();
        let precision = self.precision as usize;
        let (whole, fraction) = if digits.len() > precision {
            let (whole, fraction) = digits.split_at(digits.len() - precision);
            (whole.to_owned(), fraction.to_owned())
        } else {
            ("0".to_owned(), format!("{digits:0>precision$}"))
        };
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            f.write_str(&whole)
        } else {
            write!(f, "{whole}.{fraction}")
        }
    }
}

impl fmt::Display for Currency {
    /// Base units; use [`Currency::display_decimal`] for coins.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} base units", self.0)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimals_at_precision() {
        assert_eq!(
            Currency::parse_decimal("12.5", 9),
            Ok(Currency(12_500_000_000))
        );
        assert_eq!(Currency::parse_decimal("3", 9), Ok(Currency(3_000_000_000)));
        assert_eq!(Currency::parse_decimal(".5", 1), Ok(Currency(5)));
        assert_eq!(Currency::parse_decimal("7.", 0), Ok(Currency(7)));
        assert_eq!(Currency::parse_decimal("0.000000001", 9), Ok(Currency(1)));
        assert_eq!(Currency::parse_decimal("42", 0), Ok(Currency(42)));
    }

    #[test]
    fn parse_errors_name_the_problem() {
        assert_eq!(Currency::parse_decimal("", 9), Err(CurrencyError::Empty));
        assert_eq!(Currency::parse_decimal(".", 9), Err(CurrencyError::Empty));
        assert_eq!(
            Currency::parse_decimal("-1", 9),
            Err(CurrencyError::InvalidCharacter {
                text: "-1".into(),
                found: '-'
            })
        );
        assert_eq!(
            Currency::parse_decimal("1.2.3", 9),
            Err(CurrencyError::InvalidCharacter {
                text: "1.2.3".into(),
                found: '.'
            })
        );
        assert_eq!(
            Currency::parse_decimal("0.0000000001", 9),
            Err(CurrencyError::TooManyDecimals {
                text: "0.0000000001".into(),
                digits: 10,
                precision: 9
            })
        );
        assert!(matches!(
            Currency::parse_decimal(&"9".repeat(40), 0),
            Err(CurrencyError::Overflow { .. })
        ));
        assert!(matches!(
            Currency::parse_decimal("1", 39),
            Err(CurrencyError::PrecisionTooLarge(39))
        ));
    }

    #[test]
    fn prints_decimals() {
        assert_eq!(
            Currency(12_500_000_000).display_decimal(9).to_string(),
            "12.5"
        );
        assert_eq!(Currency(3_000_000_000).display_decimal(9).to_string(), "3");
        assert_eq!(Currency(1).display_decimal(9).to_string(), "0.000000001");
        assert_eq!(Currency(0).display_decimal(9).to_string(), "0");
        assert_eq!(Currency(17).display_decimal(0).to_string(), "17");
        assert_eq!(
            Currency(u128::MAX).display_decimal(38).to_string(),
            "3.40282366920938463463374607431768211455"
        );
    }

    #[test]
    fn print_parse_round_trip() {
        for units in [0u128, 1, 10, 999_999_999, 1_000_000_000, u128::MAX] {
            for precision in [0, 1, 9, 18] {
                let text = Currency(units).display_decimal(precision).to_string();
                assert_eq!(
                    Currency::parse_decimal(&text, precision),
                    Ok(Currency(units))
                );
            }
        }
    }

    #[test]
    fn checked_arithmetic() {
        assert_eq!(Currency(2).checked_add(Currency(3)), Some(Currency(5)));
        assert_eq!(Currency(u128::MAX).checked_add(Currency(1)), None);
        assert_eq!(Currency(2).checked_sub(Currency(3)), None);
        assert_eq!(Currency(2).checked_mul(3), Some(Currency(6)));
        assert_eq!(Currency(u128::MAX).checked_mul(2), None);
        assert_eq!(
            Currency::checked_sum([Currency(1), Currency(2)]),
            Some(Currency(3))
        );
        assert_eq!(Currency::from_coins(2, 9), Some(Currency(2_000_000_000)));
        assert_eq!(Currency::from_coins(1, 40), None);
    }
}
