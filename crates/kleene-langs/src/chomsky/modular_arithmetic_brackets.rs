//! Modular arithmetic with brackets (DCF, the paper's "Modular Arithmetic"): DM's
//! `tasks/dcf/modular_arithmetic_brackets.py`. Its expression grammar, generator and
//! parser are shared with solve equation (DM's `solve_equation.py` imports them too).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::transduction::{numbered, uniform_between, Level, Transduction};
use crate::LangError;

/// A symbol of DM's bracketed expressions, before the task maps it to a token id (the two
/// tasks number the symbols differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Symbol {
    Digit(u32),
    Plus,
    Minus,
    Times,
    Open,
    Close,
    /// Solve equation's unknown `x`, standing where a digit stood.
    Unknown,
}

/// DM's `generate_one_expression_and_result(modulus, len, mult)`: appends an expression of
/// exactly `len >= 1` symbols to `out` and returns its value mod `modulus`.
///
/// `G(1) = d`, `G(2) = -d`, `G(3) = (d)`, `G(4) = (-d)`, and for `len >= 5`
/// `G(len) = (G(a) op G(len-3-a))` with `a ~ U{1..len-4}` and `op` uniform over `+ -`
/// (and `*` when `mult`). Random draws in DM's order: the split, the left and right
/// parts, then the operator. Digits are uniform in `0..modulus`.
pub(crate) fn generate_expression(
    modulus: u32,
    len: usize,
    mult: bool,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Symbol>,
) -> u32 {
    let negate = |d: u32| (modulus - d) % modulus;
    match len {
        0 | 1 => {
            let d = rng.random_range(0..modulus);
            out.push(Symbol::Digit(d));
            d
        }
        2 => {
            let d = rng.random_range(0..modulus);
            out.extend([Symbol::Minus, Symbol::Digit(d)]);
            negate(d)
        }
        3 => {
            let d = rng.random_range(0..modulus);
            out.extend([Symbol::Open, Symbol::Digit(d), Symbol::Close]);
            d
        }
        4 => {
            let d = rng.random_range(0..modulus);
            out.extend([Symbol::Open, Symbol::Minus, Symbol::Digit(d), Symbol::Close]);
            negate(d)
        }
        _ => {
            let left_len = uniform_between(1, len - 4, rng);
            let right_len = len - 3 - left_len;
            out.push(Symbol::Open);
            let left = generate_expression(modulus, left_len, mult, rng, out);
            // The operator is drawn after both parts, as in DM; its slot is filled then.
            let op_slot = out.len();
            out.push(Symbol::Plus);
            let right = generate_expression(modulus, right_len, mult, rng, out);
            out.push(Symbol::Close);
            let (op, value) = match rng.random_range(0..if mult { 3u32 } else { 2 }) {
                0 => (Symbol::Plus, (left + right) % modulus),
                1 => (Symbol::Minus, (left + modulus - right) % modulus),
                _ => (Symbol::Times, left * right % modulus),
            };
            out[op_slot] = op;
            value
        }
    }
}

/// The value of an expression as `coef · x + constant` mod the modulus (`coef = 0` when
/// there is no unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Affine {
    pub(crate) coef: u32,
    pub(crate) constant: u32,
}

/// Deepest bracket nesting the parser follows (recursion bound for hostile files). DM's
/// generator nests `O(log n)` deep on average; 1,000 levels need `n >= 4,000`.
const MAX_NESTING: usize = 1_000;

/// Recursive-descent parser of exactly DM's grammar (see [`generate_expression`]): it
/// accepts a symbol string iff the generator can produce it.
struct Parser<'a> {
    symbols: &'a [Symbol],
    pos: usize,
    modulus: u32,
    depth: usize,
}

impl Parser<'_> {
    fn unexpected(&self, wanted: &str) -> String {
        match self.symbols.get(self.pos) {
            Some(s) => format!("{s:?} at position {} where {wanted} must be", self.pos),
            None => format!("the expression ends where {wanted} must be"),
        }
    }

    fn digit(&mut self) -> Result<Affine, String> {
        let value = match self.symbols.get(self.pos) {
            Some(&Symbol::Digit(d)) => Affine {
                coef: 0,
                constant: d,
            },
            Some(Symbol::Unknown) => Affine {
                coef: 1,
                constant: 0,
            },
            _ => return Err(self.unexpected("a digit")),
        };
        self.pos += 1;
        Ok(value)
    }

    /// One `G(·)`; the flag says whether it is `d` or `-d` (the only forms `(·)` may wrap).
    fn expression(&mut self) -> Result<(Affine, bool), String> {
        let m = self.modulus;
        match self.symbols.get(self.pos) {
            Some(Symbol::Digit(_) | Symbol::Unknown) => Ok((self.digit()?, true)),
            Some(Symbol::Minus) => {
                self.pos += 1;
                let v = self.digit()?;
                Ok((
                    Affine {
                        coef: (m - v.coef) % m,
                        constant: (m - v.constant) % m,
                    },
                    true,
                ))
            }
            Some(Symbol::Open) => {
                self.depth += 1;
                if self.depth > MAX_NESTING {
                    return Err(format!("brackets nest deeper than {MAX_NESTING}"));
                }
                self.pos += 1;
                let (left, left_is_atom) = self.expression()?;
                let op = self.symbols.get(self.pos).copied();
                self.pos += 1;
                let value = match op {
                    Some(Symbol::Close) if left_is_atom => left,
                    Some(Symbol::Close) => {
                        return Err(format!(
                            "brackets at position {} wrap a bracketed expression, which DM's grammar never does",
                            self.pos - 1
                        ))
                    }
                    Some(op @ (Symbol::Plus | Symbol::Minus | Symbol::Times)) => {
                        let (right, _) = self.expression()?;
                        if self.symbols.get(self.pos) != Some(&Symbol::Close) {
                            return Err(self.unexpected("a closing bracket"));
                        }
                        self.pos += 1;
                        combine(op, left, right, m)?
                    }
                    _ => {
                        self.pos -= 1;
                        return Err(self.unexpected("an operator or a closing bracket"));
                    }
                };
                self.depth -= 1;
                Ok((value, false))
            }
            _ => Err(self.unexpected("a digit, '-' or '('")),
        }
    }
}

fn combine(op: Symbol, left: Affine, right: Affine, m: u32) -> Result<Affine, String> {
    Ok(match op {
        Symbol::Plus => Affine {
            coef: (left.coef + right.coef) % m,
            constant: (left.constant + right.constant) % m,
        },
        Symbol::Minus => Affine {
            coef: (left.coef + m - right.coef) % m,
            constant: (left.constant + m - right.constant) % m,
        },
        _ => {
            if left.coef != 0 && right.coef != 0 {
                return Err("the unknown is multiplied by itself".into());
            }
            Affine {
                coef: (left.coef * right.constant + right.coef * left.constant) % m,
                constant: left.constant * right.constant % m,
            }
        }
    })
}

/// Parses a whole expression of DM's grammar and returns its value.
pub(crate) fn evaluate_expression(symbols: &[Symbol], modulus: u32) -> Result<Affine, String> {
    let mut parser = Parser {
        symbols,
        pos: 0,
        modulus,
        depth: 0,
    };
    let (value, _) = parser.expression()?;
    if parser.pos != symbols.len() {
        return Err(format!(
            "{:?} at position {} follows a complete expression",
            symbols[parser.pos], parser.pos
        ));
    }
    Ok(value)
}

/// Checks the modulus of the two expression tasks: DM writes digits and the solve
/// equation result with `str(d)`, one token per character, so moduli above 10 would
/// split numbers into several tokens.
pub(crate) fn checked_modulus(task: &str, modulus: u32) -> Result<u32, LangError> {
    if (2..=10).contains(&modulus) {
        Ok(modulus)
    } else {
        Err(LangError::InvalidConfig {
            task: task.into(),
            field: "modulus".into(),
            reason: format!("{modulus} is outside 2..=10 (digits are single tokens)"),
        })
    }
}

/// `modular_arithmetic_brackets` (the registry builds it with `mult = True`): a bracketed
/// expression of DM's grammar (see `generate_expression`) in, its value mod `m` out.
///
/// - input symbols (`m + 6`): digits `0..m`, then `+`, `-`, `*`, `(`, `)`, and `x`, a slot
///   DM's alphabet has but never emits; classes `0..m` (the paper uses `m = 5`);
/// - output length 1;
/// - length unit: DM's input length `n` (`sample_batch(length = n)`), every symbol of the
///   expression.
///
/// Example (`m = 5`): `[8,3,7,8,6,2,9,9]` ("(3*(-2))") `-> 4`.
#[derive(Clone, Copy, Debug)]
pub struct ModularArithmeticBrackets {
    modulus: u32,
    mult: bool,
}

impl ModularArithmeticBrackets {
    /// The paper's modulus.
    pub const PAPER_MODULUS: u32 = 5;

    /// Modulus `m` in `2..=10`; `mult` adds `*` to the operators (DM's registry: true).
    pub fn new(modulus: u32, mult: bool) -> Result<Self, LangError> {
        Ok(ModularArithmeticBrackets {
            modulus: checked_modulus("modular-arithmetic-brackets", modulus)?,
            mult,
        })
    }

    fn token(&self, symbol: Symbol) -> u32 {
        let m = self.modulus;
        match symbol {
            Symbol::Digit(d) => d,
            Symbol::Plus => m,
            Symbol::Minus => m + 1,
            Symbol::Times => m + 2,
            Symbol::Open => m + 3,
            Symbol::Close => m + 4,
            Symbol::Unknown => m + 5,
        }
    }

    fn symbol(&self, position: usize, token: u32) -> Result<Symbol, String> {
        let m = self.modulus;
        Ok(match token {
            d if d < m => Symbol::Digit(d),
            t if t == m => Symbol::Plus,
            t if t == m + 1 => Symbol::Minus,
            t if t == m + 2 && self.mult => Symbol::Times,
            t if t == m + 3 => Symbol::Open,
            t if t == m + 4 => Symbol::Close,
            t => {
                return Err(format!(
                    "token {t} at position {position} never occurs in this task's expressions"
                ))
            }
        })
    }
}

impl Default for ModularArithmeticBrackets {
    fn default() -> Self {
        ModularArithmeticBrackets {
            modulus: Self::PAPER_MODULUS,
            mult: true,
        }
    }
}

impl Transduction for ModularArithmeticBrackets {
    fn name(&self) -> String {
        let mut name = String::from("modular-arithmetic-brackets");
        if self.modulus != Self::PAPER_MODULUS {
            name += &format!("-{}", self.modulus);
        }
        if !self.mult {
            name += "-no-mult";
        }
        name
    }
    fn description(&self) -> String {
        let ops = if self.mult { "+ - *" } else { "+ -" };
        format!(
            "a fully bracketed expression over digits and {ops}; its value mod {}",
            self.modulus
        )
    }
    fn level(&self) -> Level {
        Level::Dcf
    }
    fn symbols(&self) -> Vec<String> {
        let mut v = numbered(self.modulus);
        v.extend(["+", "-", "*", "(", ")", "x"].map(String::from));
        v
    }
    fn classes(&self) -> Vec<String> {
        numbered(self.modulus)
    }
    fn output_length(&self, _len: usize) -> usize {
        1
    }
    fn sample(&self, len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        let mut symbols = Vec::with_capacity(len);
        let value = generate_expression(self.modulus, len, self.mult, rng, &mut symbols);
        let input = symbols.into_iter().map(|s| self.token(s)).collect();
        (input, vec![value])
    }
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String> {
        let symbols = input
            .iter()
            .enumerate()
            .map(|(p, &t)| self.symbol(p, t))
            .collect::<Result<Vec<_>, _>>()?;
        let value = evaluate_expression(&symbols, self.modulus)?;
        Ok(vec![value.constant])
    }
}
