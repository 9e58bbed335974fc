// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/interfaces/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @dev The EIP-3009 entry point used by USDC, EURC and the test stablecoin.
interface IERC3009Receive {
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;
}

/// @title InvoicePayments
/// @notice A buyer pays an invoice reference; funds go straight to the configured treasury and one
///         event carries reference, payer, token and amount, which is what Corridor's watcher
///         matches. The contract never holds funds between calls.
contract InvoicePayments {
    using SafeERC20 for IERC20;

    address public immutable treasury;

    event InvoicePaid(bytes32 indexed paymentRef, address indexed payer, address indexed token, uint256 amount);

    error ZeroAmount();

    /// @notice The EIP-3009 nonce a payer signs to pay `paymentRef`; `salt` lets one payer pay the
    ///         same invoice more than once (partial payments).
    function authorizationNonce(bytes32 paymentRef, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(paymentRef, salt));
    }
    error ZeroAddress();

    constructor(address treasury_) {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
    }

    /// @notice Pays with a prior ERC-20 approval to this contract.
    function pay(IERC20 token, uint256 amount, bytes32 paymentRef) external {
        if (amount == 0) revert ZeroAmount();
        token.safeTransferFrom(msg.sender, treasury, amount);
        emit InvoicePaid(paymentRef, msg.sender, address(token), amount);
    }

    /// @notice Pays with an EIP-2612 permit, so the payer needs no separate approve transaction.
    /// @dev A permit front-run by someone else already set the allowance; the try/catch lets the
    ///      payment go on in that case instead of failing the buyer (OpenZeppelin's advice).
    function payWithPermit(
        IERC20 token,
        uint256 amount,
        bytes32 paymentRef,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        if (amount == 0) revert ZeroAmount();
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        token.safeTransferFrom(msg.sender, treasury, amount);
        emit InvoicePaid(paymentRef, msg.sender, address(token), amount);
    }

    /// @notice Pays with an EIP-3009 receiveWithAuthorization signed by `payer` to this contract.
    ///         Anyone (the buyer, an agent, or Corridor's x402 facilitator) may relay it; the
    ///         authorization's nonce is the replay protection and is consumed by the token.
    /// @dev The nonce must be keccak256(abi.encode(paymentRef, salt)): without that binding a relayer
    ///      could take a payer's signed authorization and book it against another invoice.
    function payWithAuthorization(
        address token,
        address payer,
        uint256 amount,
        bytes32 paymentRef,
        bytes32 salt,
        uint256 validAfter,
        uint256 validBefore,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        if (amount == 0) revert ZeroAmount();
        bytes32 nonce = authorizationNonce(paymentRef, salt);
        IERC3009Receive(token).receiveWithAuthorization(
            payer, address(this), amount, validAfter, validBefore, nonce, v, r, s
        );
        IERC20(token).safeTransfer(treasury, amount);
        emit InvoicePaid(paymentRef, payer, token, amount);
    }
}
