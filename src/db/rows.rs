//! Conversion of query results to JSON: text values from the simple query
//! protocol, typed by the column types when they are known.

use serde_json::Value;
use tokio_postgres::types::Type;

/// Converts one text value of a column of type `ty` (if known) to JSON.
pub fn text_to_json(text: Option<&str>, ty: Option<&Type>) -> Value {
    let Some(t) = text else {
        return Value::Null;
    };
    let Some(ty) = ty else {
        return Value::String(t.to_owned());
    };
    match *ty {
        Type::BOOL => match t {
            "t" => Value::Bool(true),
            "f" => Value::Bool(false),
            _ => Value::String(t.to_owned()),
        },
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => t
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(t.to_owned())),
        Type::FLOAT4 | Type::FLOAT8 => match t.parse::<f64>() {
            Ok(f) if f.is_finite() => serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(t.to_owned())),
            _ => Value::String(t.to_owned()),
        },
        Type::JSON | Type::JSONB => {
            serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned()))
        }
        // numeric stays a string: JSON numbers would lose precision.
        _ => Value::String(t.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_by_type() {
        assert_eq!(text_to_json(Some("t"), Some(&Type::BOOL)), json!(true));
        assert_eq!(text_to_json(Some("42"), Some(&Type::INT8)), json!(42));
        assert_eq!(text_to_json(Some("1.5"), Some(&Type::FLOAT8)), json!(1.5));
        assert_eq!(text_to_json(Some("NaN"), Some(&Type::FLOAT8)), json!("NaN"));
        assert_eq!(
            text_to_json(Some("12345678901234567890.5"), Some(&Type::NUMERIC)),
            json!("12345678901234567890.5")
        );
        assert_eq!(
            text_to_json(Some(r#"{"a":"b\\n"}"#), Some(&Type::JSONB)),
            json!({"a": "b\\n"})
        );
        assert_eq!(text_to_json(None, Some(&Type::TEXT)), Value::Null);
        assert_eq!(text_to_json(Some("x"), None), json!("x"));
    }
}
