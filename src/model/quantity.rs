//! Kubernetes quantity strings → exact integers.
//!
//! Owns apimachinery's `ParseQuantity` grammar and rounding (`docs/ACCOUNTING.md` §9) and the
//! `MilliValue` / `Value` ceilings. A parsed quantity is an exact `i128` count of nano-units.
//! Pure: knows no Kubernetes objects or resource names, never uses floating point, and never
//! panics or wraps on hostile input; values it cannot hold exactly are an error, not a guess.

/// Nano-units in one unit: every parsed quantity is an exact multiple of 10⁻⁹.
const NANOS_PER_UNIT: i128 = 1_000_000_000;

const NANOS_PER_MILLI: i128 = 1_000_000;

/// apimachinery caps `BinarySI` values at 2⁶³−1 units (`maxAllowed`).
const BINARY_CAP_NANOS: i128 = 9_223_372_036_854_775_807 * NANOS_PER_UNIT;

/// Why a quantity string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Go's `ErrFormatWrong`: empty, or a character outside the grammar.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Format,
    /// Go's `ErrSuffix`: an unknown suffix such as `K`, `Mi3` or a lone `e`.
    #[error("unable to parse quantity's suffix")]
    Suffix,
    /// Go's `ErrNumeric`: no digits on a path where Go needs them (`e-10`, `Pi`).
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// The exact value does not fit in `i128` nano-units, or the exponent is outside Go's
    /// `int32` range (which Go silently wraps into a different number).
    #[error("quantity is out of the range this exporter holds exactly")]
    Overflow,
    /// A negative value where requests and allocatable must be non-negative.
    #[error("quantity must not be negative")]
    Negative,
}

/// Parses a quantity exactly like apimachinery `ParseQuantity`, as signed nano-units.
///
/// Non-zero magnitudes finer than 1n round up to the next nano-unit; `BinarySI` magnitudes are
/// capped at 2⁶³−1 units. A string with no digits is zero (`"Gi"`, `"."`, `"-"`).
///
/// # Errors
///
/// Go's three parse errors ([`QuantityError::Format`], [`QuantityError::Suffix`],
/// [`QuantityError::Numeric`]), and [`QuantityError::Overflow`] where the exact value does not
/// fit (Go would keep it and later return garbage from `Value()`).
pub fn parse_nanos(s: &str) -> Result<i128, QuantityError> {
    let parts = scan(s.as_bytes())?;
    let (suffix, exponent) = interpret(parts.suffix)?;
    let exponent = i32::try_from(exponent).map_err(|_| QuantityError::Overflow)?;
    if !parts.has_digits && takes_big_decimal_path(suffix, exponent) {
        return Err(QuantityError::Numeric);
    }
    let digits = parts.num.iter().chain(parts.denom).copied();
    let denom_len = i128::try_from(parts.denom.len()).map_err(|_| QuantityError::Overflow)?;
    let magnitude = match suffix {
        Suffix::Decimal => exact_nanos(digits, 0, i128::from(exponent) - denom_len + 9)
            .ok_or(QuantityError::Overflow)?,
        Suffix::Binary => exact_nanos(digits, exponent.unsigned_abs(), 9 - denom_len)
            .map_or(BINARY_CAP_NANOS, |n| n.min(BINARY_CAP_NANOS)),
    };
    Ok(if parts.negative {
        -magnitude
    } else {
        magnitude
    })
}

/// What [`parse_requested_nanos`] makes of a quantity beyond the exact range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Held exactly.
    Exact,
    /// Too large to hold exactly: saturated at `i128::MAX` nano-units, which every conversion
    /// turns into the largest figure (`docs/ACCOUNTING.md` §9: saturate and flag, never wrap).
    Saturated,
}

/// Parses a request, limit or allocatable: like [`parse_non_negative_nanos`], except that a value
/// too large to hold exactly saturates (and says so) instead of being refused, and one too small
/// (an exponent below Go's `int32` range) rounds up to one nano-unit as `⌈⌉` would.
///
/// # Errors
///
/// Those of [`parse_non_negative_nanos`], but never [`QuantityError::Overflow`].
pub fn parse_requested_nanos(s: &str) -> Result<(i128, Range), QuantityError> {
    match parse_non_negative_nanos(s) {
        Err(QuantityError::Overflow) => {
            let parts = scan(s.as_bytes())?;
            if parts.negative {
                return Err(QuantityError::Negative);
            }
            let (_, exponent) = interpret(parts.suffix)?;
            let nonzero = parts.num.iter().chain(parts.denom).any(|&d| d != b'0');
            if exponent < 0 {
                // Below a nano-unit: rounds up like every fraction of a nano-unit does.
                Ok((i128::from(nonzero), Range::Exact))
            } else {
                Ok((i128::MAX, Range::Saturated))
            }
        }
        other => other.map(|nanos| (nanos, Range::Exact)),
    }
}

/// Parses a quantity for a request or allocatable, where API validation forbids negatives.
///
/// # Errors
///
/// Those of [`parse_nanos`], and [`QuantityError::Negative`] below zero.
pub fn parse_non_negative_nanos(s: &str) -> Result<i128, QuantityError> {
    let nanos = parse_nanos(s)?;
    if nanos < 0 {
        return Err(QuantityError::Negative);
    }
    Ok(nanos)
}

/// `MilliValue()`: ⌈q·1000⌉ (exact, so it may exceed Go's `int64`).
#[must_use]
pub fn milli_ceil(nanos: i128) -> i128 {
    div_ceil(nanos, NANOS_PER_MILLI)
}

/// `Value()`: ⌈q⌉ (exact, so it may exceed Go's `int64`).
#[must_use]
pub fn units_ceil(nanos: i128) -> i128 {
    div_ceil(nanos, NANOS_PER_UNIT)
}

fn div_ceil(n: i128, d: i128) -> i128 {
    n / d + i128::from(n % d > 0)
}

/// The pieces `parseQuantityString` splits a quantity into.
struct Parts<'a> {
    negative: bool,
    /// Integer digits with leading zeros stripped.
    num: &'a [u8],
    /// Fraction digits.
    denom: &'a [u8],
    /// Whether the number before the suffix holds any digit (leading zeros count).
    has_digits: bool,
    suffix: &'a [u8],
}

/// Go's `parseQuantityString`: sign, zeros, digits, `.` digits, suffix run, sign, digits.
fn scan(s: &[u8]) -> Result<Parts<'_>, QuantityError> {
    let (negative, rest) = match s {
        [] => return Err(QuantityError::Format),
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    let (zeros, rest) = split_leading(rest, |c| c == b'0');
    let (num, rest) = split_leading(rest, |c| c.is_ascii_digit());
    let (denom, suffix) = match rest {
        [b'.', fraction @ ..] => split_leading(fraction, |c| c.is_ascii_digit()),
        _ => (&[][..], rest),
    };
    let (_, exponent) = split_leading(suffix, |c| b"eEinumkKMGTP".contains(&c));
    let exponent_digits = match exponent {
        [b'+' | b'-', digits @ ..] | digits => digits,
    };
    if !exponent_digits.iter().all(u8::is_ascii_digit) {
        return Err(QuantityError::Format);
    }
    Ok(Parts {
        negative,
        num,
        denom,
        has_digits: !zeros.is_empty() || !num.is_empty() || !denom.is_empty(),
        suffix,
    })
}

fn split_leading(s: &[u8], accept: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    s.split_at(s.iter().take_while(|&&c| accept(c)).count())
}

#[derive(Clone, Copy)]
enum Suffix {
    /// Power of ten: `DecimalSI` or `DecimalExponent`.
    Decimal,
    /// Power of two: `BinarySI`.
    Binary,
}

/// Go's `suffixer.interpret`: the suffix's base and exponent.
fn interpret(suffix: &[u8]) -> Result<(Suffix, i64), QuantityError> {
    let found = match suffix {
        b"n" => (Suffix::Decimal, -9),
        b"u" => (Suffix::Decimal, -6),
        b"m" => (Suffix::Decimal, -3),
        b"" => (Suffix::Decimal, 0),
        b"k" => (Suffix::Decimal, 3),
        b"M" => (Suffix::Decimal, 6),
        b"G" => (Suffix::Decimal, 9),
        b"T" => (Suffix::Decimal, 12),
        b"P" => (Suffix::Decimal, 15),
        b"E" => (Suffix::Decimal, 18),
        b"Ki" => (Suffix::Binary, 10),
        b"Mi" => (Suffix::Binary, 20),
        b"Gi" => (Suffix::Binary, 30),
        b"Ti" => (Suffix::Binary, 40),
        b"Pi" => (Suffix::Binary, 50),
        b"Ei" => (Suffix::Binary, 60),
        [b'e' | b'E', exponent @ ..] if !exponent.is_empty() => {
            let exponent = std::str::from_utf8(exponent)
                .ok()
                .and_then(|e| e.parse::<i64>().ok())
                .ok_or(QuantityError::Suffix)?;
            (Suffix::Decimal, exponent)
        }
        _ => return Err(QuantityError::Suffix),
    };
    Ok(found)
}

/// Whether Go leaves its `int64` fast path for a number without digits, and so fails with
/// `ErrNumeric` parsing the empty number text: a decimal scale below nano, or a binary
/// exponent whose precision estimate `15 − 1 − ⌊e·3/10⌋ − 1` is negative (`Pi`, `Ei`).
fn takes_big_decimal_path(suffix: Suffix, exponent: i32) -> bool {
    match suffix {
        Suffix::Decimal => exponent < -9,
        Suffix::Binary => exponent * 3 / 10 > 13,
    }
}

/// ⌈digits · 2^`pow2` · 10^`pow10`⌉ for ASCII digits, or `None` when it does not fit in `i128`.
fn exact_nanos<I>(digits: I, pow2: u32, pow10: i128) -> Option<i128>
where
    I: DoubleEndedIterator<Item = u8> + Clone,
{
    if digits.clone().all(|d| d == b'0') {
        return Some(0);
    }
    if pow10 >= 0 {
        let scale = u32::try_from(pow10)
            .ok()
            .and_then(|p| 10_i128.checked_pow(p))?;
        return digits_value(digits)?
            .checked_mul(1_i128 << pow2)?
            .checked_mul(scale);
    }
    let dropped = usize::try_from(pow10.unsigned_abs()).unwrap_or(usize::MAX);
    if pow2 == 0 {
        return round_up_dropping(digits, dropped);
    }
    round_up_dropping(times_pow2(digits, pow2).into_iter(), dropped)
}

/// ⌈digits / 10^dropped⌉: the kept prefix is the quotient, and any non-zero dropped digit
/// rounds it up, exactly as Go's `inf.RoundUp` to nano scale does.
fn round_up_dropping(digits: impl Iterator<Item = u8> + Clone, dropped: usize) -> Option<i128> {
    let kept = digits.clone().count().saturating_sub(dropped);
    let round_up = digits.clone().skip(kept).any(|d| d != b'0');
    digits_value(digits.take(kept))?.checked_add(i128::from(round_up))
}

fn digits_value(mut digits: impl Iterator<Item = u8>) -> Option<i128> {
    digits.try_fold(0_i128, |acc, d| {
        acc.checked_mul(10)?.checked_add(i128::from(d - b'0'))
    })
}

/// Decimal digits of `digits · 2^pow2`, for binary values with more than nine fraction digits.
fn times_pow2(digits: impl DoubleEndedIterator<Item = u8>, pow2: u32) -> Vec<u8> {
    let factor = 1_u128 << pow2;
    let mut reversed = Vec::new();
    let mut carry = 0_u128;
    for d in digits.rev() {
        let v = u128::from(d - b'0') * factor + carry;
        reversed.push(ascii_digit(v));
        carry = v / 10;
    }
    while carry > 0 {
        reversed.push(ascii_digit(carry));
        carry /= 10;
    }
    reversed.reverse();
    reversed
}

fn ascii_digit(v: u128) -> u8 {
    b'0' + u8::try_from(v % 10).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/accounting-vectors.json"
    ));

    const I64_MAX: i128 = 9_223_372_036_854_775_807;

    #[test]
    fn every_quantity_vector_matches_apimachinery() {
        let vectors: Value = serde_json::from_str(VECTORS).unwrap();
        let vectors = vectors["quantity_vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 46);
        let mut failures = Vec::new();
        for v in vectors {
            let input = v["input"].as_str().unwrap();
            let parsed = parse_nanos(input);
            let Ok(nanos) = parsed else {
                if v["valid"] == true {
                    failures.push(format!("{input:?}: expected valid, got {parsed:?}"));
                }
                continue;
            };
            if v["valid"] == false {
                failures.push(format!("{input:?}: expected invalid, got {nanos} nanos"));
                continue;
            }
            if let Some(milli) = v["milli_value"].as_i64() {
                if milli_ceil(nanos) != i128::from(milli) {
                    failures.push(format!("{input:?}: milli {} != {milli}", milli_ceil(nanos)));
                }
            }
            if let Some(units) = v["value"].as_i64() {
                if units_ceil(nanos) != i128::from(units) {
                    failures.push(format!("{input:?}: value {} != {units}", units_ceil(nanos)));
                }
            }
            // Where Go's int64 `MilliValue()` / `Value()` overflows into garbage (0, −2⁶³, …),
            // we keep the exact figure instead; accounting later saturates it into u64.
            if v["milli_overflows"] == true && milli_ceil(nanos) <= I64_MAX {
                failures.push(format!("{input:?}: milli {} fits int64", milli_ceil(nanos)));
            }
            if v["value_overflows"] == true && units_ceil(nanos) <= I64_MAX {
                failures.push(format!("{input:?}: value {} fits int64", units_ceil(nanos)));
            }
        }
        assert!(
            failures.is_empty(),
            "quantity vectors failed:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn overflowing_vectors_keep_their_exact_value() {
        let cases: &[(&str, i128, i128)] = &[
            (
                "1E",
                1_000_000_000_000_000_000_000,
                1_000_000_000_000_000_000,
            ),
            ("8Ei", I64_MAX * 1000, I64_MAX),
            (
                "10E",
                10_000_000_000_000_000_000_000,
                10_000_000_000_000_000_000,
            ),
        ];
        for &(input, milli, units) in cases {
            let nanos = parse_nanos(input).unwrap();
            assert_eq!(
                (milli_ceil(nanos), units_ceil(nanos)),
                (milli, units),
                "{input}"
            );
        }
    }

    #[test]
    fn hostile_inputs_never_panic_and_give_sane_results() {
        use QuantityError::{Format, Numeric, Overflow, Suffix};
        let ten_k_nines = "9".repeat(10_000);
        let tiny = format!("0.{}1", "0".repeat(10_000));
        let long_fraction = format!("1.{}1", "0".repeat(10_000));
        let long_binary = format!("1.{}1Ki", "0".repeat(40));
        let huge_binary = format!("{ten_k_nines}Ei");
        let huge_zero = format!("{}e400", "0".repeat(10_000));
        let cases: &[(&str, Result<i128, QuantityError>)] = &[
            ("", Err(Format)),
            ("-", Ok(0)),
            ("+", Ok(0)),
            (".", Ok(0)),
            ("Ki", Ok(0)),
            ("-.Mi", Ok(0)),
            ("Pi", Err(Numeric)),
            ("Ei", Err(Numeric)),
            ("0Ei", Ok(0)),
            ("e-10", Err(Numeric)),
            ("e-9", Ok(0)),
            ("1e", Err(Suffix)),
            ("1e+", Err(Suffix)),
            ("1eE5", Err(Suffix)),
            ("--1", Err(Suffix)),
            ("1.2.3", Err(Format)),
            ("1 ", Err(Format)),
            (" 1", Err(Format)),
            ("é", Err(Format)),
            ("1μ", Err(Format)),
            ("１", Err(Format)),
            ("1\0", Err(Format)),
            (&ten_k_nines, Err(Overflow)),
            (&huge_binary, Ok(BINARY_CAP_NANOS)),
            (&huge_zero, Ok(0)),
            (&tiny, Ok(1)),
            (&long_fraction, Ok(NANOS_PER_UNIT + 1)),
            (&long_binary, Ok(1024 * NANOS_PER_UNIT + 1)),
            ("-0.0000000001", Ok(-1)),
            ("1e400", Err(Overflow)),
            ("1e-400", Ok(1)),
            ("1e999999999999", Err(Overflow)),
            ("1e-999999999999", Err(Overflow)),
            ("1e99999999999999999999", Err(Suffix)),
            (
                "9223372036854775808",
                Ok(9_223_372_036_854_775_808 * NANOS_PER_UNIT),
            ),
            ("-9223372036854775809Ki", Ok(-BINARY_CAP_NANOS)),
            ("170141183460469231731687303715.884105727", Ok(i128::MAX)),
            ("170141183460469231731687303715.884105728", Err(Overflow)),
        ];
        for (input, expected) in cases {
            let shown: String = input.chars().take(40).collect();
            assert_eq!(parse_nanos(input), *expected, "input {shown:?}");
        }
    }

    #[test]
    fn negative_quantities_parse_but_are_refused_as_amounts() {
        assert_eq!(parse_nanos("-1"), Ok(-NANOS_PER_UNIT));
        assert_eq!(parse_non_negative_nanos("-1"), Err(QuantityError::Negative));
        assert_eq!(parse_non_negative_nanos("-0"), Ok(0));
        assert_eq!(parse_non_negative_nanos("abc"), Err(QuantityError::Format));
    }

    #[test]
    fn ceilings_round_toward_positive_infinity() {
        let cases: &[(i128, i128, i128)] = &[
            (0, 0, 0),
            (1, 1, 1),
            (NANOS_PER_MILLI, 1, 1),
            (NANOS_PER_UNIT, 1000, 1),
            (NANOS_PER_UNIT + 1, 1001, 2),
            (-1_500_000_000, -1500, -1),
        ];
        for &(nanos, milli, units) in cases {
            assert_eq!(
                (milli_ceil(nanos), units_ceil(nanos)),
                (milli, units),
                "{nanos}"
            );
        }
    }

    #[test]
    fn out_of_range_quantities_saturate_and_are_flagged_tiny_ones_round_up() {
        for huge in [
            "1e30",
            "1e400",
            "170141183460469231731687303715.884105728",
            "1e999999999999",
        ] {
            assert_eq!(
                parse_requested_nanos(huge),
                Ok((i128::MAX, Range::Saturated)),
                "{huge}"
            );
        }
        assert_eq!(
            parse_requested_nanos("1e-999999999999"),
            Ok((1, Range::Exact))
        );
        assert_eq!(
            parse_requested_nanos("0e-999999999999"),
            Ok((0, Range::Exact))
        );
        assert_eq!(parse_requested_nanos("-1e30"), Err(QuantityError::Negative));
        assert_eq!(
            parse_requested_nanos("2"),
            Ok((2_000_000_000, Range::Exact))
        );
        assert_eq!(parse_requested_nanos("1K"), Err(QuantityError::Suffix));
    }
}
