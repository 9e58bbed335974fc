//! Every id is its own type, shown in the API with a prefix (`mer_`, `po_`, `inv_`...).
//! Ids are UUIDv7, so they sort by creation time, which keeps indexes and cursors cheap.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an id of the form {expected_prefix}_<32 hex digits>")]
pub struct IdError {
    pub expected_prefix: &'static str,
}

/// Declares a prefixed id type around a UUID.
#[macro_export]
macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(::uuid::Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(::uuid::Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: ::uuid::Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> ::uuid::Uuid {
                self.0
            }

            pub fn parse(input: &str) -> Result<Self, $crate::ids::IdError> {
                let err = $crate::ids::IdError { expected_prefix: $prefix };
                let rest = input
                    .strip_prefix($prefix)
                    .and_then(|r| r.strip_prefix('_'))
                    .ok_or(err.clone())?;
                if rest.len() != 32 || !rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(err);
                }
                ::uuid::Uuid::try_parse(rest).map(Self).map_err(|_| err)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(self, f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ids::IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// A merchant: the tenant every API key, balance and payout belongs to.
    MerchantId,
    "mer"
);
prefixed_id!(ApiKeyId, "key");
prefixed_id!(ConsoleUserId, "usr");
prefixed_id!(AccountId, "acc");
prefixed_id!(EntryId, "je");
prefixed_id!(HoldId, "hold");
prefixed_id!(EventId, "evt");
prefixed_id!(WebhookEndpointId, "we");
prefixed_id!(WebhookDeliveryId, "wd");
prefixed_id!(PayoutId, "po");
prefixed_id!(InvoiceId, "inv");
prefixed_id!(BeneficiaryId, "ben");
prefixed_id!(PayoutBatchId, "pob");
prefixed_id!(QuoteId, "quo");
prefixed_id!(FundingWalletId, "fw");
prefixed_id!(DepositId, "dep");
prefixed_id!(
    /// One asset's yield for one period, shared out (or carried as a loss).
    YieldDistributionId,
    "ydist"
);
prefixed_id!(YieldRewardId, "yrew");
prefixed_id!(YieldAdjustmentId, "yadj");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_prefixed_form() {
        let id = MerchantId::new();
        let shown = id.to_string();
        assert!(shown.starts_with("mer_"));
        assert_eq!(MerchantId::parse(&shown).unwrap(), id);
    }

    #[test]
    fn rejects_another_types_prefix_and_malformed_ids() {
        let po = PayoutId::new().to_string();
        assert!(MerchantId::parse(&po).is_err());
        assert!(MerchantId::parse("mer_").is_err());
        assert!(MerchantId::parse("mer_0123456789ABCDEF0123456789abcdef").is_err());
        assert!(MerchantId::parse("mer_0123456789abcdef0123456789abcde").is_err());
    }
}
