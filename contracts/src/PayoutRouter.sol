// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/interfaces/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title PayoutRouter
/// @notice Pays Corridor payouts from the treasury float it holds. Every payout carries the
///         compliance decision: an EIP-712 attestation signed by the compliance signer (a key
///         separate from the submitter's). One attestation covers a batch through the hash of its
///         items, so a batch of 100 pays for one signature check and one replay slot.
/// @dev Only the configured submitter may call pay functions: an attestation alone is not enough
///      to move treasury funds, and the submitter alone cannot move them without one.
contract PayoutRouter is EIP712, Ownable {
    using SafeERC20 for IERC20;

    struct Item {
        bytes16 payoutId;
        address recipient;
        uint256 amount;
    }

    bytes32 public constant PAYOUT_TYPEHASH = keccak256(
        "Payout(bytes16 payoutId,address token,address recipient,uint256 amount,uint256 expiry,bytes32 decisionHash)"
    );
    bytes32 public constant BATCH_TYPEHASH =
        keccak256("PayoutBatch(address token,bytes32 itemsHash,uint256 expiry,bytes32 decisionHash)");

    address public complianceSigner;
    address public submitter;
    /// @notice Attestation digests already used: each attestation pays once.
    mapping(bytes32 digest => bool) public attestationUsed;

    event PayoutExecuted(bytes16 indexed payoutId, bytes32 decisionHash);
    event ComplianceSignerChanged(address indexed signer);
    event SubmitterChanged(address indexed submitter);

    error NotSubmitter(address caller);
    error AttestationExpired(uint256 expiry);
    error AttestationReplayed(bytes32 digest);
    error InvalidAttestationSigner(address recovered);
    error EmptyBatch();
    error ZeroAddress();

    constructor(address owner_, address complianceSigner_, address submitter_)
        EIP712("Corridor PayoutRouter", "1")
        Ownable(owner_)
    {
        if (complianceSigner_ == address(0) || submitter_ == address(0)) revert ZeroAddress();
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

    /// @notice Pays one payout.
    function pay(
        IERC20 token,
        Item calldata item,
        uint256 expiry,
        bytes32 decisionHash,
        bytes calldata signature
    ) external {
        bytes32 digest = payoutDigest(address(token), item, expiry, decisionHash);
        _consume(digest, expiry, signature);
        token.safeTransfer(item.recipient, item.amount);
        emit PayoutExecuted(item.payoutId, decisionHash);
    }

    /// @notice Pays a batch of payouts covered by one attestation.
    function payBatch(
        IERC20 token,
        Item[] calldata items,
        uint256 expiry,
        bytes32 decisionHash,
        bytes calldata signature
    ) external {
        if (items.length == 0) revert EmptyBatch();
        bytes32 digest = batchDigest(address(token), items, expiry, decisionHash);
        _consume(digest, expiry, signature);
        for (uint256 i = 0; i < items.length; ++i) {
            Item calldata item = items[i];
            token.safeTransfer(item.recipient, item.amount);
            emit PayoutExecuted(item.payoutId, decisionHash);
        }
    }

    function payoutDigest(address token, Item calldata item, uint256 expiry, bytes32 decisionHash)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    PAYOUT_TYPEHASH, item.payoutId, token, item.recipient, item.amount, expiry, decisionHash
                )
            )
        );
    }

    /// @notice itemsHash = keccak256(abi.encode(items)): the ABI encoding of the Item[] array.
    function batchDigest(address token, Item[] calldata items, uint256 expiry, bytes32 decisionHash)
        public
        view
        returns (bytes32)
    {
        bytes32 itemsHash = keccak256(abi.encode(items));
        return _hashTypedDataV4(keccak256(abi.encode(BATCH_TYPEHASH, token, itemsHash, expiry, decisionHash)));
    }

    function _consume(bytes32 digest, uint256 expiry, bytes calldata signature) private {
        if (msg.sender != submitter) revert NotSubmitter(msg.sender);
        if (block.timestamp > expiry) revert AttestationExpired(expiry);
        if (attestationUsed[digest]) revert AttestationReplayed(digest);
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != complianceSigner) {
            revert InvalidAttestationSigner(recovered);
        }
        attestationUsed[digest] = true;
    }
}
