//! Contract bindings generated from services/chain/abi/*.json, which the test command keeps
//! identical to a fresh `forge build` (contracts/script/export-artifacts.py --check).
// The generated functions mirror the contracts' ABIs (EIP-3009 takes nine arguments); their
// arity is not ours to choose.
#![allow(clippy::too_many_arguments)]

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    TestStablecoin,
    "abi/TestStablecoin.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    PayoutRouter,
    "abi/PayoutRouter.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    InvoicePayments,
    "abi/InvoicePayments.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    TestYieldVault,
    "abi/TestYieldVault.json"
);
