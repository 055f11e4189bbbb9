//! Math expressions in `x`, such as `x^2` or `sin(3*x) + 0.1*x`, that define a target
//! function.
//!
//! Operators, from lowest to highest precedence: `+ -`, `* /`, unary `-`, and `^`
//! (also `**`), which groups to the right, so `-x^2` is `-(x^2)` and `2^-x` is
//! `2^(-x)`. Functions: sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, exp, ln,
//! log (natural), log10, log2, sqrt, abs, sign, floor, ceil. Constants: pi, e.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use pest::Parser;
use pest::error::{Error as PestError, ErrorVariant};
use pest::iterators::Pairs;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use serde::{Deserialize, Serialize};

#[derive(pest_derive::Parser)]
#[grammar = "expression.pest"]
struct FormulaParser;

/// The one variable an expression may use.
const VARIABLE: &str = "x";

/// A named function of one argument.
type NamedFunction = (&'static str, fn(f64) -> f64);

const FUNCTIONS: [NamedFunction; 19] = [
    ("sin", f64::sin),
    ("cos", f64::cos),
    ("tan", f64::tan),
    ("asin", f64::asin),
    ("acos", f64::acos),
    ("atan", f64::atan),
    ("sinh", f64::sinh),
    ("cosh", f64::cosh),
    ("tanh", f64::tanh),
    ("exp", f64::exp),
    ("ln", f64::ln),
    ("log", f64::ln),
    ("log10", f64::log10),
    ("log2", f64::log2),
    ("sqrt", f64::sqrt),
    ("abs", f64::abs),
    ("sign", sign),
    ("floor", f64::floor),
    ("ceil", f64::ceil),
];

fn sign(value: f64) -> f64 {
    if value == 0.0 { 0.0 } else { value.signum() }
}

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::subtract, Assoc::Left))
        .op(Op::infix(Rule::multiply, Assoc::Left) | Op::infix(Rule::divide, Assoc::Left))
        .op(Op::prefix(Rule::sign))
        .op(Op::infix(Rule::power, Assoc::Right))
});

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Number(f64),
    Variable,
    Negate(Box<Node>),
    Binary(Rule, Box<Node>, Box<Node>),
    /// A function, by its index in `FUNCTIONS`, applied to an argument.
    Call(usize, Box<Node>),
}

/// A parsed expression in `x`, evaluated in f64.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Expression {
    text: String,
    root: Node,
}

/// An expression that could not be parsed, with a picture of where it fails.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid expression {text:?}:\n{detail}")]
pub struct ParseExpressionError {
    /// The expression as given.
    pub text: String,
    /// The position and the reason, with the failing spot marked.
    pub detail: String,
}

impl Expression {
    /// Evaluates the expression at `x`.
    pub fn eval(&self, x: f64) -> f64 {
        eval(&self.root, x)
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn eval(node: &Node, x: f64) -> f64 {
    match node {
        Node::Number(value) => *value,
        Node::Variable => x,
        Node::Negate(inner) => -eval(inner, x),
        Node::Call(index, argument) => (FUNCTIONS[*index].1)(eval(argument, x)),
        Node::Binary(rule, left, right) => {
            let (a, b) = (eval(left, x), eval(right, x));
            match rule {
                Rule::add => a + b,
                Rule::subtract => a - b,
                Rule::multiply => a * b,
                Rule::divide => a / b,
                _ => power(a, b),
            }
        }
    }
}

/// Raises `base` to `exponent`, with integer exponents computed exactly as repeated
/// products so that `x^2` equals `x*x`.
fn power(base: f64, exponent: f64) -> f64 {
    if exponent.fract() == 0.0 && exponent.abs() <= 64.0 {
        base.powi(exponent as i32)
    } else {
        base.powf(exponent)
    }
}

impl FromStr for Expression {
    type Err = ParseExpressionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let failure = |error: PestError<Rule>| ParseExpressionError {
            text: text.to_string(),
            detail: readable(error, text).to_string(),
        };

        let mut pairs = FormulaParser::parse(Rule::formula, text).map_err(failure)?;
        let expr = pairs
            .next()
            .and_then(|formula| formula.into_inner().next())
            .expect("the grammar makes a formula start with an expression");
        let root = build(expr.into_inner()).map_err(failure)?;

        Ok(Expression {
            text: text.to_string(),
            root,
        })
    }
}

fn build(pairs: Pairs<'_, Rule>) -> Result<Node, PestError<Rule>> {
    PRATT
        .map_primary(|primary| match primary.as_rule() {
            Rule::number => primary
                .as_str()
                .parse::<f64>()
                .map(Node::Number)
                .map_err(|_| custom_error(&primary, "this number is not valid")),
            Rule::name => name_value(&primary),
            Rule::call => {
                let mut inner = primary.clone().into_inner();
                let name = inner.next().expect("a call starts with a name");
                let argument = inner.next().expect("a call has an argument");
                let index = FUNCTIONS
                    .iter()
                    .position(|(known, _)| *known == name.as_str())
                    .ok_or_else(|| {
                        let known: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
                        custom_error(
                            &name,
                            &format!("unknown function; known functions are {}", known.join(", ")),
                        )
                    })?;
                Ok(Node::Call(index, Box::new(build(argument.into_inner())?)))
            }
            Rule::group => {
                let inner = primary
                    .into_inner()
                    .next()
                    .expect("a group holds an expression");
                build(inner.into_inner())
            }
            rule => unreachable!("the grammar has no primary {rule:?}"),
        })
        .map_prefix(|operator, operand| {
            let operand = operand?;
            Ok(match operator.as_str() {
                "-" => Node::Negate(Box::new(operand)),
                _ => operand,
            })
        })
        .map_infix(|left, operator, right| {
            Ok(Node::Binary(
                operator.as_rule(),
                Box::new(left?),
                Box::new(right?),
            ))
        })
        .parse(pairs)
}

fn name_value(pair: &pest::iterators::Pair<'_, Rule>) -> Result<Node, PestError<Rule>> {
    match pair.as_str() {
        VARIABLE => Ok(Node::Variable),
        "pi" => Ok(Node::Number(std::f64::consts::PI)),
        "e" => Ok(Node::Number(std::f64::consts::E)),
        other if FUNCTIONS.iter().any(|(name, _)| *name == other) => Err(custom_error(
            pair,
            &format!("{other} is a function; write it with brackets, as in {other}(x)"),
        )),
        _ => Err(custom_error(
            pair,
            "unknown variable; the only variable is x (constants: pi, e)",
        )),
    }
}

fn custom_error(pair: &pest::iterators::Pair<'_, Rule>, message: &str) -> PestError<Rule> {
    PestError::new_from_span(
        ErrorVariant::CustomError {
            message: message.to_string(),
        },
        pair.as_span(),
    )
}

/// Rewrites pest's list of expected rules as plain words, each named once.
fn readable(error: PestError<Rule>, text: &str) -> PestError<Rule> {
    let ErrorVariant::ParsingError { positives, .. } = &error.variant else {
        return error;
    };
    let position = match error.location {
        pest::error::InputLocation::Pos(position) => position,
        pest::error::InputLocation::Span((start, _)) => start,
    };

    let mut expected: Vec<&str> = Vec::new();
    for rule in positives {
        let words = describe_rule(*rule);
        if !expected.contains(&words) {
            expected.push(words);
        }
    }
    let message = match expected.as_slice() {
        [] => "this is not a valid expression".to_string(),
        [only] => format!("expected {only}"),
        [rest @ .., last] => format!("expected {} or {last}", rest.join(", ")),
    };
    match pest::Position::new(text, position) {
        Some(at) => PestError::new_from_pos(ErrorVariant::CustomError { message }, at),
        None => error,
    }
}

fn describe_rule(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "the end of the expression",
        Rule::number | Rule::name | Rule::call | Rule::group | Rule::expr | Rule::formula => {
            "a number, x, a constant, a function or a bracket"
        }
        Rule::add | Rule::subtract | Rule::multiply | Rule::divide | Rule::power => "an operator",
        Rule::sign => "a sign",
        Rule::close => "a closing bracket )",
        _ => "more input",
    }
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expression({:?})", self.text)
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for Expression {
    type Error = ParseExpressionError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Expression> for String {
    fn from(expression: Expression) -> Self {
        expression.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, x: f64) -> f64 {
        text.parse::<Expression>().unwrap().eval(x)
    }

    #[test]
    fn precedence_follows_mathematics() {
        assert_eq!(value("x^2", 3.0), 9.0);
        assert_eq!(value("-x^2", 3.0), -9.0);
        assert_eq!(value("2^-x", 3.0), 0.125);
        assert_eq!(value("2^3^2", 0.0), 512.0);
        assert_eq!(value("1 + 2 * x", 3.0), 7.0);
        assert_eq!(value("(1 + 2) * x", 3.0), 9.0);
        assert_eq!(value("x**2 / 4 - 1", 2.0), 0.0);
        assert_eq!(value("1.5e1 + .5", 0.0), 15.5);
    }

    #[test]
    fn square_equals_product() {
        for i in -100..100 {
            let x = i as f64 * 0.0137;
            assert_eq!(value("x^2", x), x * x);
        }
    }

    #[test]
    fn functions_and_constants_evaluate() {
        assert!((value("sin(pi/2)", 0.0) - 1.0).abs() < 1e-15);
        assert!((value("exp(-x^2)", 1.0) - (-1.0f64).exp()).abs() < 1e-15);
        assert_eq!(value("abs(x) + sign(x)", -2.0), 1.0);
        assert_eq!(value("ln(e)", 0.0), 1.0);
    }

    #[test]
    fn error_marks_failing_position() {
        let error = "x^".parse::<Expression>().unwrap_err().to_string();
        assert!(error.contains("1:3"), "{error}");
        assert!(error.contains("1 | x^"), "{error}");
        assert!(error.contains('^'), "{error}");
    }

    #[test]
    fn unknown_variable_is_rejected() {
        let error = "y + 1".parse::<Expression>().unwrap_err().to_string();
        assert!(
            error.contains("unknown variable; the only variable is x"),
            "{error}"
        );
        assert!(error.contains("1:1"), "{error}");
    }

    #[test]
    fn unknown_function_lists_known() {
        let error = "foo(x)".parse::<Expression>().unwrap_err().to_string();
        assert!(
            error.contains("unknown function; known functions are sin, cos"),
            "{error}"
        );
    }

    #[test]
    fn malformed_expressions_are_rejected() {
        for text in ["", "x +* 2", "2*(x+1", "x 2", "sin", "3..1", ")"] {
            assert!(text.parse::<Expression>().is_err(), "{text:?} parsed");
        }
    }
}
