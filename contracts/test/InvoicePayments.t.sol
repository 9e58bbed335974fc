// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "./Vm.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";
import {InvoicePayments} from "../src/InvoicePayments.sol";
import {IERC20} from "@openzeppelin/contracts/interfaces/IERC20.sol";

contract InvoicePaymentsTest is TestBase {
    TestStablecoin token;
    InvoicePayments payments;
    address owner = address(0xA11CE);
    address treasury = address(0x7EA5);
    uint256 payerKey = 0xB0B;
    address payer;
    bytes32 ref = keccak256("inv-ref-1");

    bytes32 constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    function setUp() public {
        token = new TestStablecoin("Test USD Coin", "USDC", owner);
        payments = new InvoicePayments(treasury);
        payer = vm.addr(payerKey);
        vm.prank(owner);
        token.mint(payer, 1_000e6);
    }

    function test_payMovesFundsToTreasuryAndEmitsReference() public {
        vm.startPrank(payer);
        token.approve(address(payments), 100e6);
        vm.expectEmit();
        emit InvoicePayments.InvoicePaid(ref, payer, address(token), 100e6);
        payments.pay(IERC20(address(token)), 100e6, ref);
        vm.stopPrank();
        vm.assertEq(token.balanceOf(treasury), 100e6);
        vm.assertEq(token.balanceOf(address(payments)), 0);
    }

    function test_RevertWhen_payWithoutAllowance() public {
        vm.expectRevert();
        vm.prank(payer);
        payments.pay(IERC20(address(token)), 1e6, ref);
    }

    function test_RevertWhen_payZero() public {
        vm.expectRevert(InvoicePayments.ZeroAmount.selector);
        vm.prank(payer);
        payments.pay(IERC20(address(token)), 0, ref);
    }

    function test_RevertWhen_treasuryIsZero() public {
        vm.expectRevert(InvoicePayments.ZeroAddress.selector);
        new InvoicePayments(address(0));
    }

    function test_payWithPermitNeedsNoApprove() public {
        uint256 deadline = block.timestamp + 60;
        bytes32 structHash =
            keccak256(abi.encode(PERMIT_TYPEHASH, payer, address(payments), 50e6, token.nonces(payer), deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(payerKey, digest);
        vm.prank(payer);
        payments.payWithPermit(IERC20(address(token)), 50e6, ref, deadline, v, r, s);
        vm.assertEq(token.balanceOf(treasury), 50e6);
    }

    function _receiveAuth(uint256 value, bytes32 nonce, uint256 validBefore)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        bytes32 structHash = keccak256(
            abi.encode(RECEIVE_WITH_AUTHORIZATION_TYPEHASH, payer, address(payments), value, 0, validBefore, nonce)
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(payerKey, digest);
    }

    function test_payWithAuthorizationRelayedByAnyone() public {
        bytes32 salt = bytes32(uint256(42));
        bytes32 nonce = payments.authorizationNonce(ref, salt);
        (uint8 v, bytes32 r, bytes32 s) = _receiveAuth(30e6, nonce, block.timestamp + 60);
        vm.expectEmit();
        emit InvoicePayments.InvoicePaid(ref, payer, address(token), 30e6);
        payments.payWithAuthorization(address(token), payer, 30e6, ref, salt, 0, block.timestamp + 60, v, r, s);
        vm.assertEq(token.balanceOf(treasury), 30e6);
    }

    function test_RevertWhen_authorizationRelayedForAnotherReference() public {
        bytes32 salt = bytes32(uint256(42));
        bytes32 nonce = payments.authorizationNonce(ref, salt);
        (uint8 v, bytes32 r, bytes32 s) = _receiveAuth(30e6, nonce, block.timestamp + 60);
        vm.expectRevert();
        payments.payWithAuthorization(
            address(token), payer, 30e6, keccak256("other-invoice"), salt, 0, block.timestamp + 60, v, r, s
        );
    }

    function test_RevertWhen_authorizationReused() public {
        bytes32 salt = bytes32(uint256(7));
        bytes32 nonce = payments.authorizationNonce(ref, salt);
        (uint8 v, bytes32 r, bytes32 s) = _receiveAuth(30e6, nonce, block.timestamp + 60);
        payments.payWithAuthorization(address(token), payer, 30e6, ref, salt, 0, block.timestamp + 60, v, r, s);
        vm.expectRevert();
        payments.payWithAuthorization(address(token), payer, 30e6, ref, salt, 0, block.timestamp + 60, v, r, s);
    }

    function testFuzz_payAccumulatesAtTreasury(uint64 a, uint64 b) public {
        vm.assume(uint256(a) + uint256(b) <= 1_000e6 && a > 0 && b > 0);
        vm.startPrank(payer);
        token.approve(address(payments), uint256(a) + uint256(b));
        payments.pay(IERC20(address(token)), a, ref);
        payments.pay(IERC20(address(token)), b, ref);
        vm.stopPrank();
        vm.assertEq(token.balanceOf(treasury), uint256(a) + uint256(b));
    }
}
