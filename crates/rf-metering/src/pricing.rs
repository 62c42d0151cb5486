//! The price table (`models/pricing.toml`): what each cloud model charges
//! per million tokens, turned into integer micro-dollars so that sums in the
//! ledger are exact. A price is written as a decimal string ("0.15"), so
//! 0.15 $/Mtok is exactly 150,000 µ$ per million tokens.

use std::collections::HashMap;

use serde::Deserialize;

use rf_ai::{AiError, ModelId, ProviderName, Usage};

/// A model's prices, in micro-dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Price {
    pub input: u64,
    /// Prompt-cache reads; the input price where the provider has none.
    pub cached_input: u64,
    /// Prompt-cache writes; the input price where the provider has none.
    pub cache_write: u64,
    pub output: u64,
}

impl Price {
    /// Nothing to pay: local models, servers on this machine.
    pub const FREE: Price = Price { input: 0, cached_input: 0, cache_write: 0, output: 0 };

    /// The cost of `usage` in micro-dollars, rounded up to the next whole one.
    pub fn cost_micro_usd(&self, usage: &Usage) -> u64 {
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let written = usage.cache_write_tokens.min(usage.input_tokens - cached);
        let plain = usage.input_tokens - cached - written;
        let total = u128::from(plain) * u128::from(self.input)
            + u128::from(cached) * u128::from(self.cached_input)
            + u128::from(written) * u128::from(self.cache_write)
            + u128::from(usage.output_tokens) * u128::from(self.output);
        u64::try_from(total.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }

    /// Parses `input` and `output` prices given in dollars per million tokens.
    pub fn from_dollars(input: &str, output: &str) -> Result<Self, String> {
        let input = micro_usd(input)?;
        Ok(Self { input, cached_input: input, cache_write: input, output: micro_usd(output)? })
    }
}

/// One row of the table, with where its figures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceEntry {
    pub id: ModelId,
    /// The vendor whose list price this is (`openai`, `anthropic`).
    pub provider: ProviderName,
    pub aliases: Vec<ModelId>,
    pub price: Price,
    pub source: String,
    pub checked: String,
}

/// The price table.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    entries: Vec<PriceEntry>,
    by_id: HashMap<String, usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    format: u32,
    #[serde(default)]
    model: Vec<EntryRepr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryRepr {
    id: ModelId,
    provider: ProviderName,
    #[serde(default)]
    aliases: Vec<ModelId>,
    input_usd_per_mtok: String,
    cached_input_usd_per_mtok: Option<String>,
    cache_write_usd_per_mtok: Option<String>,
    output_usd_per_mtok: String,
    source: String,
    checked: String,
}

/// Dollars as written by a user or the table ("0.15", "25") in
/// micro-dollars: up to six decimals, no sign or exponent.
pub fn parse_usd(text: &str) -> Result<u64, String> {
    micro_usd(text.trim().trim_start_matches('$'))
}

/// "0.15" → 150_000 (micro-dollars): up to six decimals, no sign or exponent.
fn micro_usd(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a price in dollars like \"0.15\" (at most 6 decimals)");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || fraction.len() > 6 || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let fraction: u64 = format!("{fraction:0<6}").parse().map_err(|_| bad())?;
    whole.checked_mul(1_000_000).and_then(|w| w.checked_add(fraction)).ok_or_else(bad)
}

impl PriceTable {
    /// The table shipped with the app.
    pub fn bundled() -> Result<Self, AiError> {
        Self::parse(include_str!("../../../models/pricing.toml"), "models/pricing.toml")
    }

    /// Parses a table; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, AiError> {
        let invalid = |detail: String| AiError::Manifest { origin: origin.to_owned(), detail };
        let file: FileRepr = toml::from_str(text).map_err(|err| invalid(err.to_string()))?;
        if file.format != 1 {
            return Err(invalid(format!("format {} is not supported (this build reads format 1)", file.format)));
        }
        let mut table = Self::default();
        for entry in file.model {
            let field = |name: &str, value: &str| micro_usd(value).map_err(|err| invalid(format!("model {}: {name}: {err}", entry.id)));
            let input = field("input_usd_per_mtok", &entry.input_usd_per_mtok)?;
            let price = Price {
                input,
                cached_input: entry.cached_input_usd_per_mtok.as_deref().map(|v| field("cached_input_usd_per_mtok", v)).transpose()?.unwrap_or(input),
                cache_write: entry.cache_write_usd_per_mtok.as_deref().map(|v| field("cache_write_usd_per_mtok", v)).transpose()?.unwrap_or(input),
                output: field("output_usd_per_mtok", &entry.output_usd_per_mtok)?,
            };
            let index = table.entries.len();
            for name in std::iter::once(&entry.id).chain(&entry.aliases) {
                if table.by_id.insert(name.to_string(), index).is_some() {
                    return Err(invalid(format!("the model id {name:?} is listed twice")));
                }
            }
            table.entries.push(PriceEntry {
                id: entry.id,
                provider: entry.provider,
                aliases: entry.aliases,
                price,
                source: entry.source,
                checked: entry.checked,
            });
        }
        Ok(table)
    }

    /// The entry for a model id or alias.
    pub fn get(&self, model: &str) -> Option<&PriceEntry> {
        self.by_id.get(model).map(|&i| &self.entries[i])
    }

    pub fn entries(&self) -> &[PriceEntry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_convert_exactly() {
        for (text, micro) in [("0.15", 150_000), ("2.5", 2_500_000), ("15", 15_000_000), ("0.000001", 1), ("0", 0)] {
            assert_eq!(micro_usd(text), Ok(micro), "{text}");
        }
        for bad in ["", ".5", "1.0000001", "-1", "1e3", "0,15", " 1"] {
            assert!(micro_usd(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cost_splits_cached_and_written_input() {
        let price = Price { input: 3_000_000, cached_input: 300_000, cache_write: 3_750_000, output: 15_000_000 };
        let usage = Usage { input_tokens: 1_000, output_tokens: 100, cached_input_tokens: 600, cache_write_tokens: 200, estimated: false };
        // 200 plain × 3 + 600 × 0.3 + 200 × 3.75 + 100 × 15 (µ$ per token).
        assert_eq!(price.cost_micro_usd(&usage), 600 + 180 + 750 + 1_500);
        // One token at 0.15 $/Mtok is 0.15 µ$: rounded up to 1.
        assert_eq!(Price::from_dollars("0.15", "0.6").unwrap().cost_micro_usd(&Usage { input_tokens: 1, ..Usage::default() }), 1);
        assert_eq!(Price::FREE.cost_micro_usd(&usage), 0);
    }

    #[test]
    fn the_bundled_table_loads_and_is_consistent() {
        let table = PriceTable::bundled().unwrap();
        assert!(table.entries().len() >= 10, "only {} models priced", table.entries().len());
        for entry in table.entries() {
            assert!(entry.source.starts_with("https://"), "{}: source {:?}", entry.id, entry.source);
            assert!(entry.checked.len() == 10 && entry.checked.as_bytes()[4] == b'-', "{}: checked {:?}", entry.id, entry.checked);
            assert!(entry.price.output >= entry.price.input || entry.price.output > 0, "{}: output price", entry.id);
            assert!(entry.price.cached_input <= entry.price.input, "{}: a cached read costs more than input", entry.id);
        }
        assert!(table.get("gpt-4o-mini").is_some());
    }

    #[test]
    fn bad_tables_are_refused_with_the_reason() {
        let dup = "format = 1\n[[model]]\nid='a'\nprovider='x'\naliases=['a']\ninput_usd_per_mtok='1'\noutput_usd_per_mtok='2'\nsource='https://x'\nchecked='2025-01-01'\n";
        assert!(PriceTable::parse(dup, "t").unwrap_err().to_string().contains("listed twice"));
        let bad = dup.replace("aliases=['a']", "aliases=[]").replace("'2'", "'two'");
        assert!(PriceTable::parse(&bad, "t").unwrap_err().to_string().contains("output_usd_per_mtok"));
        assert!(PriceTable::parse("format = 2", "t").unwrap_err().to_string().contains("format 2"));
    }
}
