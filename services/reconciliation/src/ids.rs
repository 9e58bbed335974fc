//! Reconciliation's ids, each its own type with the prefix the API shows (the domain's
//! `prefixed_id!`, as for every other id in the project).

use corridor_domain::prefixed_id;

prefixed_id!(BankAccountId, "bacc");
prefixed_id!(StatementFileId, "bsf");
prefixed_id!(BankLineId, "bl");
prefixed_id!(RampOrderId, "ramp");
prefixed_id!(RunId, "rrun");
prefixed_id!(ManualDecisionId, "rman");
