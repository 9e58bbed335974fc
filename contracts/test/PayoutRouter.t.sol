// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "./Vm.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";
import {PayoutRouter} from "../src/PayoutRouter.sol";
import {IERC20} from "@openzeppelin/contracts/interfaces/IERC20.sol";

contract PayoutRouterTest is TestBase {
    TestStablecoin token;
    PayoutRouter router;
    address owner = address(0xA11CE);
    uint256 complianceKey = 0xC0FFEE;
    uint256 otherKey = 0xBAD;
    address submitter = address(0x5B);
    bytes32 decision = keccak256("decision-1");

    function setUp() public {
        token = new TestStablecoin("Test USD Coin", "USDC", owner);
        router = new PayoutRouter(owner, vm.addr(complianceKey), submitter);
        vm.prank(owner);
        token.mint(address(router), 1_000_000e6);
    }

    function _item(uint256 i, uint256 amount) internal pure returns (PayoutRouter.Item memory) {
        return PayoutRouter.Item({
            payoutId: bytes16(uint128(i + 1)), recipient: address(uint160(0x1000 + i)), amount: amount
        });
    }

    function _signSingle(uint256 key, PayoutRouter.Item memory item, uint256 expiry) internal view returns (bytes memory) {
        bytes32 digest = router.payoutDigest(address(token), item, expiry, decision);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _signBatch(uint256 key, PayoutRouter.Item[] memory items, uint256 expiry) internal view returns (bytes memory) {
        bytes32 digest = router.batchDigest(address(token), items, expiry, decision);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function test_payWithValidAttestation() public {
        PayoutRouter.Item memory item = _item(0, 25e6);
        bytes memory sig = _signSingle(complianceKey, item, block.timestamp + 300);
        vm.expectEmit();
        emit PayoutRouter.PayoutExecuted(item.payoutId, decision);
        vm.prank(submitter);
        router.pay(IERC20(address(token)), item, block.timestamp + 300, decision, sig);
        vm.assertEq(token.balanceOf(item.recipient), 25e6);
    }

    function test_RevertWhen_attestationReplayed() public {
        PayoutRouter.Item memory item = _item(0, 25e6);
        bytes memory sig = _signSingle(complianceKey, item, block.timestamp + 300);
        vm.startPrank(submitter);
        router.pay(IERC20(address(token)), item, block.timestamp + 300, decision, sig);
        bytes32 digest = router.payoutDigest(address(token), item, block.timestamp + 300, decision);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.AttestationReplayed.selector, digest));
        router.pay(IERC20(address(token)), item, block.timestamp + 300, decision, sig);
        vm.stopPrank();
    }

    function test_RevertWhen_attestationExpired() public {
        vm.warp(10_000);
        PayoutRouter.Item memory item = _item(0, 25e6);
        bytes memory sig = _signSingle(complianceKey, item, 9_999);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.AttestationExpired.selector, 9_999));
        vm.prank(submitter);
        router.pay(IERC20(address(token)), item, 9_999, decision, sig);
    }

    function test_RevertWhen_signedByWrongKey() public {
        PayoutRouter.Item memory item = _item(0, 25e6);
        bytes memory sig = _signSingle(otherKey, item, block.timestamp + 300);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.InvalidAttestationSigner.selector, vm.addr(otherKey)));
        vm.prank(submitter);
        router.pay(IERC20(address(token)), item, block.timestamp + 300, decision, sig);
    }

    function test_RevertWhen_signatureMissing() public {
        PayoutRouter.Item memory item = _item(0, 25e6);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.InvalidAttestationSigner.selector, address(0)));
        vm.prank(submitter);
        router.pay(IERC20(address(token)), item, block.timestamp + 300, decision, "");
    }

    function test_RevertWhen_attestationForOnePayoutPaysAnother() public {
        PayoutRouter.Item memory approved = _item(0, 25e6);
        bytes memory sig = _signSingle(complianceKey, approved, block.timestamp + 300);
        PayoutRouter.Item memory other = _item(1, 25e6);
        vm.expectRevert();
        vm.prank(submitter);
        router.pay(IERC20(address(token)), other, block.timestamp + 300, decision, sig);
    }

    function test_RevertWhen_callerIsNotSubmitter() public {
        PayoutRouter.Item memory item = _item(0, 25e6);
        bytes memory sig = _signSingle(complianceKey, item, block.timestamp + 300);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.NotSubmitter.selector, address(this)));
        router.pay(IERC20(address(token)), item, block.timestamp + 300, decision, sig);
    }

    function test_payBatchPaysEveryItemOnce() public {
        PayoutRouter.Item[] memory items = new PayoutRouter.Item[](100);
        for (uint256 i = 0; i < items.length; ++i) {
            items[i] = _item(i, 1e6 + i);
        }
        bytes memory sig = _signBatch(complianceKey, items, block.timestamp + 300);
        vm.prank(submitter);
        router.payBatch(IERC20(address(token)), items, block.timestamp + 300, decision, sig);
        for (uint256 i = 0; i < items.length; ++i) {
            vm.assertEq(token.balanceOf(items[i].recipient), 1e6 + i);
        }
        vm.expectRevert();
        vm.prank(submitter);
        router.payBatch(IERC20(address(token)), items, block.timestamp + 300, decision, sig);
    }

    function test_RevertWhen_batchItemTampered() public {
        PayoutRouter.Item[] memory items = new PayoutRouter.Item[](3);
        for (uint256 i = 0; i < items.length; ++i) {
            items[i] = _item(i, 1e6);
        }
        bytes memory sig = _signBatch(complianceKey, items, block.timestamp + 300);
        items[2].amount = 2e6;
        vm.expectRevert();
        vm.prank(submitter);
        router.payBatch(IERC20(address(token)), items, block.timestamp + 300, decision, sig);
    }

    function test_RevertWhen_batchEmpty() public {
        PayoutRouter.Item[] memory items = new PayoutRouter.Item[](0);
        vm.expectRevert(PayoutRouter.EmptyBatch.selector);
        vm.prank(submitter);
        router.payBatch(IERC20(address(token)), items, block.timestamp + 300, decision, "");
    }

    function test_RevertWhen_batchPaysBlacklistedRecipient() public {
        PayoutRouter.Item[] memory items = new PayoutRouter.Item[](2);
        items[0] = _item(0, 1e6);
        items[1] = _item(1, 1e6);
        vm.prank(owner);
        token.blacklist(items[1].recipient);
        bytes memory sig = _signBatch(complianceKey, items, block.timestamp + 300);
        vm.expectRevert(abi.encodeWithSelector(TestStablecoin.AccountBlacklisted.selector, items[1].recipient));
        vm.prank(submitter);
        router.payBatch(IERC20(address(token)), items, block.timestamp + 300, decision, sig);
        vm.assertEq(token.balanceOf(items[0].recipient), 0, "a reverted batch pays nobody");
    }

    function test_RevertWhen_nonOwnerChangesSigner() public {
        vm.expectRevert();
        router.setComplianceSigner(address(this));
    }

    function testFuzz_singlePayoutPaysExactAmount(uint96 amount, uint128 id) public {
        vm.assume(amount > 0 && amount <= 1_000_000e6);
        PayoutRouter.Item memory item =
            PayoutRouter.Item({payoutId: bytes16(id), recipient: address(0xBEEF), amount: amount});
        bytes memory sig = _signSingle(complianceKey, item, block.timestamp + 1);
        vm.prank(submitter);
        router.pay(IERC20(address(token)), item, block.timestamp + 1, decision, sig);
        vm.assertEq(token.balanceOf(address(0xBEEF)), amount);
    }
}
