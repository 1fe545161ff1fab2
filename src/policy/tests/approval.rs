//! `require_approval` with its `approval` object: syntax, the order of
//! evaluation, approved calls and listings.

use serde_json::{json, Value};

use super::{call, load, show, value_errors};
use crate::policy::{ApprovedBy, Listing, Policy};

fn policy() -> Policy {
    load(json!({
        "version": "1", "default": "deny",
        "tools": {
            "create_invoice": {
                "action": "require_approval",
                "approval": {"by": "caller", "ttl_seconds": 120},
                "require": [{"path": "args.currency", "op": "eq", "value": "PES"}],
                "deny_if": [{"conditions": [{"path": "args.amount_total", "op": "gt", "value": 100000}], "on_deny": "Too large"}],
                "limits": [{"counter": "invoices", "window": "hour", "max": 60}]
            },
            "cancel_invoice": {"action": "require_approval"},
            "wire_transfer": {"deny_if": [{"conditions": [], "on_deny": "Requires human approval."}]},
            "dry": {"action": "require_approval", "mode": "dry_run"}
        }
    }))
}

#[test]
fn approval_is_asked_only_of_calls_every_other_rule_allows() {
    let p = policy();
    let small = json!({"currency": "PES", "amount_total": 5000});
    assert_eq!(
        show(&p.decide(&call("create_invoice", &small))),
        "deny ApprovalRequired /tools/create_invoice/action: Requires human approval."
    );
    let dollars = json!({"currency": "USD", "amount_total": 5000});
    assert!(show(&p.decide(&call("create_invoice", &dollars)))
        .starts_with("deny Denied /tools/create_invoice/require/0"));
    let large = json!({"currency": "PES", "amount_total": 200000});
    assert_eq!(
        show(&p.decide(&call("create_invoice", &large))),
        "deny Denied /tools/create_invoice/deny_if/0: Too large"
    );
    // Approved, the same rules still hold and the limits apply.
    assert_eq!(
        show(&p.decide_approved(&call("create_invoice", &small))),
        "allow /tools/create_invoice"
    );
    assert!(show(&p.decide_approved(&call("create_invoice", &large))).starts_with("deny Denied"));
    // PolicyLayer's own form is a plain denial, approved or not.
    assert!(show(&p.decide_approved(&call("wire_transfer", &small)))
        .starts_with("deny Denied /tools/wire_transfer/deny_if/0"));
}

#[test]
fn the_approval_rule_defaults_to_the_caller_for_fifteen_minutes() {
    let p = policy();
    let rule = p.approval("cancel_invoice").unwrap();
    assert_eq!(
        (rule.by.clone(), rule.ttl_seconds),
        (ApprovedBy::Caller, 900)
    );
    assert_eq!(
        p.approval("create_invoice").map(|rule| rule.ttl_seconds),
        Some(120)
    );
    assert!(p.approval("wire_transfer").is_none());
    // A dry-run entry asks nobody: it only reports.
    assert!(p.approval("dry").is_none());
    assert!(show(&p.decide(&call("dry", &Value::Null)))
        .starts_with("allow /tools/dry (would deny ApprovalRequired"));
}

#[test]
fn the_rule_digest_changes_with_the_entry_and_only_with_it() {
    let digest = |entry: Value, other: Value| {
        let p = load(
            json!({"version": "1", "default": "deny", "tools": {"pay": entry, "other": other}}),
        );
        p.approval("pay").map(|rule| rule.digest)
    };
    let base = digest(json!({"action": "require_approval"}), json!({}));
    assert!(base.is_some());
    assert_eq!(
        base,
        digest(
            json!({"action": "require_approval"}),
            json!({"action": "deny"})
        )
    );
    assert_ne!(
        base,
        digest(
            json!({"action": "require_approval", "message": "Ask"}),
            json!({})
        )
    );
    assert_ne!(
        base,
        digest(
            json!({"action": "require_approval", "approval": {"ttl_seconds": 60}}),
            json!({})
        )
    );
}

#[test]
fn a_named_approver_decides_where_the_entry_says_so() {
    let p = load(json!({"version": "1", "default": "deny", "tools": {
        "refund": {"action": "require_approval", "approval": {"by": "approver", "approvers": ["carol", "finance"]}}}}));
    let rule = p.approval("refund").unwrap();
    assert_eq!(
        rule.by,
        ApprovedBy::Approver(vec!["carol".into(), "finance".into()])
    );
    assert_eq!(p.approval_rules().len(), 1);
}

#[test]
fn listings_show_approvable_tools_where_approvals_can_be_given() {
    let p = policy();
    assert_eq!(p.listing("cancel_invoice"), Listing::NeverAllowed);
    assert_eq!(p.listing_with_approvals("cancel_invoice"), Listing::Visible);
    assert_eq!(
        p.listing_with_approvals("wire_transfer"),
        Listing::NeverAllowed
    );
}

#[test]
fn approval_objects_are_validated() {
    let errors = value_errors(json!({
        "version": "1", "default": "deny",
        "tools": {
            "a": {"action": "deny", "approval": {}},
            "b": {"action": "require_approval", "approval": {"by": "boss"}},
            "c": {"action": "require_approval", "approval": {"ttl_seconds": 0, "color": 1}},
            "d": {"action": "require_approval", "approval": {"approvers": ["carol"]}},
            "e": {"action": "require_approval", "approval": {"by": "approver"}},
            "f": {"action": "require_approval", "approval": {"by": "approver", "approvers": ["carol", "carol"]}},
            "g": {"action": "require_approval", "approval": "yes"}
        }
    }));
    let expect = [
        (
            "/tools/a/approval",
            "approval applies only with action \"require_approval\"",
        ),
        (
            "/tools/b/approval/by",
            "by must be \"caller\" or \"approver\"",
        ),
        (
            "/tools/c/approval/ttl_seconds",
            "ttl_seconds must be a whole number from 1 to 86400",
        ),
        (
            "/tools/c/approval/color",
            "unknown field \"color\" in approval",
        ),
        (
            "/tools/d/approval/approvers",
            "approvers apply only with \"by\": \"approver\"",
        ),
        (
            "/tools/e/approval/by",
            "\"by\": \"approver\" needs \"approvers\"",
        ),
        ("/tools/f/approval/approvers/1", "\"carol\" is named twice"),
        (
            "/tools/g/approval",
            "approval must be an object, not a string",
        ),
    ];
    for (path, message) in expect {
        assert!(
            errors
                .iter()
                .any(|(p, m)| p == path && m.starts_with(message)),
            "missing {path}: {message} in {errors:?}"
        );
    }
    assert_eq!(errors.len(), expect.len(), "{errors:?}");
}
