//! Read tools that return third parties' personal data: a taxpayer's fiscal
//! record, a person's registration certificate, an address book. Reading one
//! is harmless; reading them in bulk is scraping, so `generate` limits them.
//!
//! A read tool is one of them when its name names people or their records
//! (`lookup_taxpayer`, `get_contacts`), or when one of its arguments is a
//! person's identifier (`get_registration_certificate` takes a `cuit`). The
//! description is not read: "List document types (80=CUIT, 86=CUIL, 96=DNI)"
//! names identifiers without returning anyone's data.

use super::inputs::Inputs;
use super::words;

/// Words in a name that make a read tool return people's records.
pub const PERSONAL_NOUNS: &[&str] = &[
    "taxpayer",
    "taxpayers",
    "contact",
    "contacts",
    "customer",
    "customers",
    "person",
    "persons",
    "people",
    "patient",
    "patients",
    "employee",
    "employees",
    "citizen",
    "citizens",
    "padron",
];

/// Words in an argument's name that identify a person: tax and national
/// identity numbers (Argentina's CUIT, CUIL and DNI, Brazil's CPF, Chile's
/// RUT, Mexico's RFC and CURP, Spain's NIF and NIE, the US SSN), passports.
pub const PERSONAL_IDENTIFIERS: &[&str] = &[
    "cuit", "cuil", "dni", "cpf", "rut", "rfc", "curp", "nif", "nie", "ssn", "passport",
];

/// Why a read tool returns personal data, if it does.
pub fn personal_data(name_words: &[String], inputs: &Inputs) -> Option<String> {
    if let Some(word) = name_words
        .iter()
        .find(|w| PERSONAL_NOUNS.contains(&w.as_str()))
    {
        return Some(format!("{word:?} in the name"));
    }
    inputs
        .names
        .iter()
        .find(|argument| {
            words(argument)
                .iter()
                .any(|w| PERSONAL_IDENTIFIERS.contains(&w.as_str()))
        })
        .map(|argument| format!("argument {argument:?} identifies a person"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, arguments: &[&str]) -> Option<String> {
        personal_data(&words(name), &Inputs::new(arguments, &[]))
    }

    #[test]
    fn names_and_identifiers() {
        assert_eq!(
            check("lookup_taxpayer", &["cuit", "scope"]).as_deref(),
            Some("\"taxpayer\" in the name")
        );
        assert_eq!(
            check("get_registration_certificate", &["cuit"]).as_deref(),
            Some("argument \"cuit\" identifies a person")
        );
        assert_eq!(
            check("get_status", &["customerCpf"]).as_deref(),
            Some("argument \"customerCpf\" identifies a person")
        );
        assert!(check("get_contacts", &["instance"]).is_some());
    }

    #[test]
    fn other_reads_are_not_personal() {
        assert_eq!(check("list_doc_types", &[]), None);
        assert_eq!(check("get_authorized_points_of_sale", &[]), None);
        assert_eq!(check("get_currency_rate", &["currency", "date"]), None);
        assert_eq!(check("check_number", &["instance", "numbers"]), None);
        assert_eq!(
            check("get_invoice", &["point_of_sale", "invoice_number"]),
            None
        );
    }
}
