// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title PayoutRouter
/// @notice Pays Corridor payouts from the treasury float it holds. Every payout carries the
///         compliance decision: an EIP-712 attestation signed by the compliance signer (a key
///         separate from the submitter's). One attestation covers a batch through the EIP-712
///         hash of its packed items, so a batch of 100 pays for one signature check and one
///         replay bit.
/// @dev Only the configured submitter may call pay functions: an attestation alone is not enough
///      to move treasury funds, and the submitter alone cannot move them without one.
///
///      Gas per recipient is the design constraint (issue #3: at most 1.10x / 1.20x the EVM floor
///      inside a batch of 100), hence three choices:
///      - items are packed, 48 bytes each: `recipient (20) | amount (12, uint96) | payoutId (16)`;
///      - replay protection is a bitmap of attestation nonces (as Permit2's unordered nonces):
///        the gateway hands out nonces in sequence, so 255 of 256 attestations update a slot
///        that already holds a bit instead of creating a new one;
///      - the per-item event is an anonymous LOG0 whose 48 data bytes are
///        `decisionHash (32) | payoutId (16)`. A topic-indexed ABI event would cost ~650 more
///        gas per item. Consumers identify it by emitter (this router), zero topics and 48 bytes
///        of data; this contract emits no other topic-less log.
contract PayoutRouter is EIP712, Ownable {
    /// Bytes per packed batch item.
    uint256 public constant ITEM_BYTES = 48;

    bytes32 public constant PAYOUT_TYPEHASH = keccak256(
        "Payout(bytes16 payoutId,address token,address recipient,uint256 amount,uint256 nonce,uint256 expiry,bytes32 decisionHash)"
    );
    /// `items` is the packed item bytes; EIP-712 encodes a `bytes` member as its keccak256.
    bytes32 public constant BATCH_TYPEHASH =
        keccak256("PayoutBatch(address token,bytes items,uint256 nonce,uint256 expiry,bytes32 decisionHash)");

    address public complianceSigner;
    address public submitter;
    /// Attestation nonces already used, 256 per word.
    mapping(uint256 word => uint256 bits) public nonceBitmap;

    event ComplianceSignerChanged(address indexed signer);
    event SubmitterChanged(address indexed submitter);

    error NotSubmitter(address caller);
    error AttestationExpired(uint256 expiry);
    error AttestationReplayed(uint256 nonce);
    error InvalidAttestationSigner(address recovered);
    error EmptyBatch();
    error MalformedBatch(uint256 length);
    error NotAContract(address token);
    error TransferFailed(address token, address recipient, uint256 amount);
    error ZeroAddress();

    constructor(address owner_, address complianceSigner_, address submitter_)
        EIP712("Corridor PayoutRouter", "1")
        Ownable(owner_)
    {
        if (complianceSigner_ == address(0) || submitter_ == address(0)) {
            revert ZeroAddress();
        }
        complianceSigner = complianceSigner_;
        submitter = submitter_;
    }

    function setComplianceSigner(address signer) external onlyOwner {
        if (signer == address(0)) revert ZeroAddress();
        complianceSigner = signer;
        emit ComplianceSignerChanged(signer);
    }

    function setSubmitter(address submitter_) external onlyOwner {
        if (submitter_ == address(0)) revert ZeroAddress();
        submitter = submitter_;
        emit SubmitterChanged(submitter_);
    }

    function nonceUsed(uint256 nonce) external view returns (bool) {
        return nonceBitmap[nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @notice Pays one payout. `item` is one packed item, as in payBatch; the attestation is
    ///         over its fields (`Payout`), so a wallet can show what it signs.
    function pay(
        address token,
        bytes calldata item,
        uint256 nonce,
        uint256 expiry,
        bytes32 decisionHash,
        bytes calldata signature
    ) external {
        if (item.length != ITEM_BYTES) revert MalformedBatch(item.length);
        bytes32 digest = payoutDigest(
            token,
            bytes16(item[32:48]),
            address(bytes20(item[0:20])),
            uint96(bytes12(item[20:32])),
            nonce,
            expiry,
            decisionHash
        );
        _consume(digest, nonce, expiry, signature);
        _requireContract(token);
        _payItems(token, item, decisionHash);
    }

    /// @notice Pays a batch of payouts covered by one attestation. `items` holds
    ///         `recipient (20) | amount (12) | payoutId (16)` per item, back to back.
    function payBatch(
        address token,
        bytes calldata items,
        uint256 nonce,
        uint256 expiry,
        bytes32 decisionHash,
        bytes calldata signature
    ) external {
        if (items.length == 0) revert EmptyBatch();
        if (items.length % ITEM_BYTES != 0) revert MalformedBatch(items.length);
        bytes32 digest = batchDigest(token, items, nonce, expiry, decisionHash);
        _consume(digest, nonce, expiry, signature);
        _requireContract(token);
        _payItems(token, items, decisionHash);
    }

    function payoutDigest(
        address token,
        bytes16 payoutId,
        address recipient,
        uint256 amount,
        uint256 nonce,
        uint256 expiry,
        bytes32 decisionHash
    ) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(PAYOUT_TYPEHASH, payoutId, token, recipient, amount, nonce, expiry, decisionHash))
        );
    }

    function batchDigest(address token, bytes calldata items, uint256 nonce, uint256 expiry, bytes32 decisionHash)
        public
        view
        returns (bytes32)
    {
        return
            _hashTypedDataV4(
                keccak256(abi.encode(BATCH_TYPEHASH, token, keccak256(items), nonce, expiry, decisionHash))
            );
    }

    function _consume(bytes32 digest, uint256 nonce, uint256 expiry, bytes calldata signature) private {
        if (msg.sender != submitter) revert NotSubmitter(msg.sender);
        if (block.timestamp > expiry) revert AttestationExpired(expiry);
        uint256 bit = 1 << (nonce & 0xff);
        uint256 bits = nonceBitmap[nonce >> 8];
        if (bits & bit != 0) revert AttestationReplayed(nonce);
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != complianceSigner) {
            revert InvalidAttestationSigner(recovered);
        }
        nonceBitmap[nonce >> 8] = bits | bit;
    }

    /// Pays packed items and records each; apart from payBatch so the compiler's stack holds
    /// its locals.
    function _payItems(address token, bytes calldata items, bytes32 decisionHash) private {
        assembly ("memory-safe") {
            let m := mload(0x40)
            // transfer(address,uint256): the selector stays in place; each item rewrites the
            // two arguments after it.
            mstore(m, shl(224, 0xa9059cbb))
            mstore(add(m, 0x60), decisionHash)
            let end := add(items.offset, items.length)
            for { let p := items.offset } lt(p, end) { p := add(p, 48) } {
                let word := calldataload(p)
                mstore(add(m, 0x04), shr(96, word))
                mstore(add(m, 0x24), and(word, 0xffffffffffffffffffffffff))
                // A token that returns nothing is accepted (USDT style); one that returns false
                // is not; a revert is passed on as it is (for example a blacklisted recipient).
                let ok := call(gas(), token, 0, m, 0x44, 0x00, 0x20)
                if iszero(and(or(eq(mload(0x00), 1), iszero(returndatasize())), ok)) {
                    if iszero(ok) {
                        if returndatasize() {
                            returndatacopy(m, 0, returndatasize())
                            revert(m, returndatasize())
                        }
                    }
                    mstore(m, shl(224, 0xbf182be8)) // TransferFailed(address,address,uint256)
                    mstore(add(m, 0x04), token)
                    mstore(add(m, 0x24), shr(96, word))
                    mstore(add(m, 0x44), and(word, 0xffffffffffffffffffffffff))
                    revert(m, 0x64)
                }
                // decisionHash (32) | payoutId (16): the id is the top half of the next word.
                mstore(add(m, 0x80), calldataload(add(p, 32)))
                log0(add(m, 0x60), 48)
            }
        }
    }

    function _requireContract(address token) private view {
        if (token.code.length == 0) revert NotAContract(token);
    }
}
